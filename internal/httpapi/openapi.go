package httpapi

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// apiOp documents one operation of the REST API. The router registers
// the routes itself; TestOpenAPIDocumentsEveryRoute holds the two to each
// other, both ways.
type apiOp struct {
	method, path, scope, summary string
	// query lists the query parameters: "name: what it is".
	query []string
	// body is the request body's schema ("" for none).
	body string
	// result is the 200 answer's schema.
	result string
}

// objectDocs are the operations of each configuration object collection.
func objectDocs() []apiOp {
	var ops []apiOp
	for _, o := range objectPaths {
		read := "read"
		if o.path == "/api-tokens" {
			read = "admin"
		}
		noun := strings.ReplaceAll(o.kind, "_", " ")
		ops = append(ops,
			apiOp{"GET", o.path, read, "Every " + noun + " of the configuration in force, in the files' order", nil, "", "ObjectList"},
			apiOp{"GET", o.path + "/{name}", read, "One " + noun + ", as the configuration file writes it (secrets as their ${NAME})", nil, "", "Object"},
			apiOp{"PUT", o.path + "/{name}", "admin", "Create or replace a " + noun + ": planned, checked whole and applied live; ?force=true lets it drop what open incidents use", []string{"force: move open incidents that use what this removes"}, "Object", "ConfigResult"},
			apiOp{"DELETE", o.path + "/{name}", "admin", "Delete a " + noun + ": refused while open incidents use it, unless ?force=true", []string{"force: move open incidents that use it to their route's current policy"}, "", "ConfigResult"},
		)
	}
	return ops
}

var apiDocs = append([]apiOp{
	{"GET", "/incidents", "read", "Incidents, newest first", []string{"status: triggered, acknowledged, resolved or open", "team: one team's", "parent: a storm's children", "limit: 1 to 500", "cursor: next_cursor of the page before"}, "", "IncidentList"},
	{"GET", "/incidents/{id}", "read", "An incident with one page of its alerts and one of its timeline", []string{"alerts_limit: 1 to 500", "alerts_cursor: alerts_next_cursor", "timeline_limit: 1 to 500", "timeline_cursor: timeline_next_cursor"}, "", "IncidentDetail"},
	{"GET", "/incidents/{id}/alerts", "read", "One page of an incident's alerts, oldest first", []string{"limit: 1 to 500", "cursor: next_cursor"}, "", "Page"},
	{"GET", "/incidents/{id}/timeline", "read", "One page of an incident's timeline, oldest first", []string{"limit: 1 to 500", "cursor: next_cursor"}, "", "Page"},
	{"POST", "/incidents/{id}/{action}", "respond", "ack, unack, resolve, reopen or escalate an incident, or assign it ({\"person\": name})", nil, "", "Incident"},
	{"GET", "/schedules", "read", "Every schedule with who is on call", nil, "", "Object"},
	{"GET", "/schedules/{schedule}", "read", "A schedule's final shifts and gaps over a range", []string{"from: RFC 3339, default now", "to: RFC 3339, default from + 7 days"}, "", "Object"},
	{"GET", "/schedules/{schedule}/overrides", "read", "A schedule's overrides", nil, "", "Object"},
	{"POST", "/schedules/{schedule}/overrides", "schedule", "Add an override", nil, "Object", "Object"},
	{"DELETE", "/schedules/{schedule}/overrides/{id}", "schedule", "Withdraw an override", nil, "", "Object"},
	{"GET", "/schedules/{schedule}/swaps", "read", "A schedule's swap requests", nil, "", "Object"},
	{"POST", "/schedules/{schedule}/swaps", "schedule", "Ask for a swap", nil, "Object", "Object"},
	{"POST", "/schedules/{schedule}/swaps/{id}/{action}", "schedule", "accept or cancel a swap", nil, "Object", "Object"},
	{"POST", "/schedules/{schedule}/take", "schedule", "Take a shift", nil, "Object", "Object"},
	{"PATCH", "/schedules/{schedule}/layers/{layer}", "schedule", "Edit a rotation (add, remove, order, handoff): run-time state that a plan shows as drift", nil, "Object", "Object"},
	{"GET", "/schedules/{schedule}/definition", "read", "A schedule as the configuration file writes it, run-time rotation edits folded in", nil, "", "Object"},
	{"PUT", "/schedules/{schedule}", "admin", "Create or replace a schedule (see PUT /people/{name})", []string{"force: move open incidents that use what this removes"}, "Object", "ConfigResult"},
	{"DELETE", "/schedules/{schedule}", "admin", "Delete a schedule (see DELETE /people/{name})", []string{"force: move open incidents that use it"}, "", "ConfigResult"},
	{"GET", "/default-route", "read", "The default route", nil, "", "Object"},
	{"PUT", "/default-route", "admin", "Replace the default route", nil, "Object", "ConfigResult"},
	{"GET", "/teams/{team}/oncall", "read", "Who is on call for a team now, and the next handoffs", nil, "", "Object"},
	{"GET", "/users/{user}/shifts", "read", "A person's coming shifts", nil, "", "Object"},
	{"POST", "/config/plan", "admin", "Plan files against the applied configuration", nil, "ConfigFiles", "ConfigResult"},
	{"POST", "/config/apply", "admin", "Plan and apply files live, in one transaction; no files applies the bot's own file again", nil, "ConfigFiles", "ConfigResult"},
	{"GET", "/config/export", "admin", "The applied configuration, run-time edits folded in, as files apply accepts", nil, "", "ConfigExport"},
	{"GET", "/openapi.json", "read", "This document", nil, "", "Object"},
	{"GET", "/reports/handoff", "read", "A team's handoff report: the range's measures, the range before and a 4-week trend (as bot report --format json)",
		[]string{"team: the team (required)", "week: an ISO week, 2026-W48", "from: first day, 2026-11-23 (with to)", "to: the day after the last (with from)"}, "", "Object"},
}, objectDocs()...)

var docPathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// openAPI builds the OpenAPI 3 document of apiDocs.
func openAPI() map[string]any {
	paths := map[string]any{}
	for _, op := range apiDocs {
		item, _ := paths[op.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[op.path] = item
		}
		var params []any
		for _, m := range docPathParam.FindAllStringSubmatch(op.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range op.query {
			name, what, _ := strings.Cut(q, ": ")
			params = append(params, map[string]any{"name": name, "in": "query", "description": what, "schema": map[string]any{"type": "string"}})
		}
		o := map[string]any{
			"summary":     op.summary,
			"operationId": strings.ToLower(op.method) + strings.NewReplacer("/", "_", "{", "", "}", "", "-", "_", ".", "_").Replace(op.path),
			"description": "Needs an API token with the " + op.scope + " scope.",
			"x-scope":     op.scope,
			"responses": map[string]any{
				"200": map[string]any{"description": "OK", "content": map[string]any{"application/json": map[string]any{"schema": ref(op.result)}}},
				"400": errResponse("the request is wrong, named in error and field"),
				"401": errResponse("no token, or a wrong one"),
				"403": errResponse("the token lacks the scope"),
				"404": errResponse("no such thing"),
				"429": errResponse("too many wrong tokens from this client; see Retry-After"),
			},
		}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if op.body != "" {
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref(op.body)}}}
		}
		item[strings.ToLower(op.method)] = o
	}
	object := map[string]any{"type": "object", "additionalProperties": true}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "On-call bot API", "version": "1",
			"description": "Incidents, schedules and the configuration as code of the on-call bot. Every request carries Authorization: Bearer <token>; a token's scopes (read, respond, schedule, schedule:<team>, admin) decide what it may call."},
		"servers":  []any{map[string]any{"url": "/api/v1"}},
		"security": []any{map[string]any{"bearer": []any{}}},
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas": map[string]any{
				"Error": map[string]any{"type": "object", "required": []any{"error"}, "properties": map[string]any{
					"error": map[string]any{"type": "string"}, "field": map[string]any{"type": "string"}}},
				"Object": object,
				"ObjectList": map[string]any{"type": "object", "properties": map[string]any{
					"items": map[string]any{"type": "array", "items": ref("Object")}}},
				"Page": map[string]any{"type": "object", "properties": map[string]any{
					"items": map[string]any{"type": "array", "items": ref("Object")}, "total": map[string]any{"type": "integer"},
					"next_cursor": map[string]any{"type": []any{"string", "null"}}}},
				"Incident": object,
				"IncidentList": map[string]any{"type": "object", "properties": map[string]any{
					"incidents": map[string]any{"type": "array", "items": ref("Incident")}, "next_cursor": map[string]any{"type": []any{"string", "null"}}}},
				"IncidentDetail": object,
				"ConfigFiles": map[string]any{"type": "object", "properties": map[string]any{
					"files":           map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "description": "file name -> YAML"},
					"prune":           map[string]any{"type": "boolean"},
					"overwrite_drift": map[string]any{"type": "boolean"},
					"force":           map[string]any{"type": "boolean"}}},
				"ConfigResult": map[string]any{"type": "object", "properties": map[string]any{
					"changes":     map[string]any{"type": "array", "items": object},
					"has_changes": map[string]any{"type": "boolean"},
					"applied":     map[string]any{"type": "boolean"}}},
				"ConfigExport": map[string]any{"type": "object", "properties": map[string]any{
					"files": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
					"env":   map[string]any{"type": "array", "items": map[string]any{"type": "string"}}}},
			},
		},
	}
}

func ref(schema string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + schema}
}

func errResponse(what string) map[string]any {
	return map[string]any{"description": what, "content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
}

var (
	openAPIOnce sync.Once
	openAPIDoc  map[string]any
)

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	openAPIOnce.Do(func() { openAPIDoc = openAPI() })
	writeJSON(w, http.StatusOK, openAPIDoc)
}
