package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oncallbot/bot/internal/plan"
)

// remoteCommand runs plan, apply or export against a running bot's API.
func remoteCommand(ctx context.Context, cmd string, f configFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	token := os.Getenv("BOT_TOKEN")
	if token == "" {
		return errors.New("--server needs an admin-scoped API token in BOT_TOKEN")
	}
	c := apiClient{base: strings.TrimRight(f.server, "/"), token: token, http: &http.Client{Timeout: 2 * time.Minute}}
	if cmd == "export" {
		var out struct {
			Files map[string]string `json:"files"`
			Env   []string          `json:"env"`
		}
		if err := c.call(ctx, "GET", "/api/v1/config/export", nil, &out); err != nil {
			return err
		}
		if err := os.MkdirAll(f.out, 0o755); err != nil {
			return err
		}
		for name, body := range out.Files {
			if err := os.WriteFile(filepath.Join(f.out, filepath.Base(name)), []byte(body), 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "exported %d files to %s\n", len(out.Files), f.out)
		for _, e := range out.Env {
			fmt.Fprintf(stdout, "  set %s: the secret was written literally, so the export names it instead\n", e)
		}
		return nil
	}
	files, err := readFiles(f.files)
	if err != nil {
		return err
	}
	req := map[string]any{"files": files, "prune": f.prune, "overwrite_drift": f.overwrite, "force": f.force}
	var res struct {
		plan.Plan
		HasChanges bool `json:"has_changes"`
	}
	if err := c.call(ctx, "POST", "/api/v1/config/plan", req, &res); err != nil {
		return invalidOr(stderr, err)
	}
	if err := printPlan(stdout, f.format, res.Plan); err != nil {
		return err
	}
	if cmd == "plan" {
		if res.HasChanges {
			return exitError{2}
		}
		return nil
	}
	if !res.HasChanges {
		return nil
	}
	if !f.yes && !confirm(stdin, stdout) {
		return exitError{1}
	}
	if err := c.call(ctx, "POST", "/api/v1/config/apply", req, &res); err != nil {
		return invalidOr(stderr, err)
	}
	fmt.Fprintln(stdout, "Applied, live.")
	return nil
}

// invalidOr prints the problems of files the server refused, one a line,
// and ends with exit status 1; any other error is returned as it is.
func invalidOr(stderr io.Writer, err error) error {
	var bad *invalidConfig
	if !errors.As(err, &bad) {
		return err
	}
	for _, e := range bad.Errors {
		fmt.Fprintln(stderr, e)
	}
	return exitError{1}
}

// confirm asks before an apply; only "yes" goes on.
func confirm(stdin io.Reader, stdout io.Writer) bool {
	fmt.Fprint(stdout, "Apply these changes? Only 'yes' applies: ")
	answer, _ := bufio.NewReader(stdin).ReadString('\n')
	if strings.TrimSpace(answer) != "yes" {
		fmt.Fprintln(stdout, "Nothing applied.")
		return false
	}
	return true
}

func printPlan(w io.Writer, format string, p plan.Plan) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	return p.Write(w)
}

// readFiles reads the files paths name (each a file or a directory of
// *.yaml and *.yml files), by the name the server reports errors with.
func readFiles(paths []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		names := []string{p}
		if st.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, err
			}
			names = nil
			for _, e := range entries {
				if ext := filepath.Ext(e.Name()); !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && (ext == ".yaml" || ext == ".yml") {
					names = append(names, filepath.Join(p, e.Name()))
				}
			}
			slices.Sort(names)
			if len(names) == 0 {
				return nil, fmt.Errorf("%s: no .yaml or .yml files", p)
			}
		}
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				return nil, err
			}
			out[n] = string(b)
		}
	}
	return out, nil
}

// apiClient calls a running bot's API.
type apiClient struct {
	base, token string
	http        *http.Client
}

// invalidConfig is the API's 400 for files that do not validate.
type invalidConfig struct {
	Message string   `json:"error"`
	Errors  []string `json:"errors"`
}

func (e *invalidConfig) Error() string { return e.Message + ": " + strings.Join(e.Errors, "; ") }

func (c apiClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest:
		var bad invalidConfig
		if json.Unmarshal(b, &bad) == nil && len(bad.Errors) > 0 {
			return &bad
		}
		fallthrough
	case resp.StatusCode != http.StatusOK:
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, e.Error)
	}
	return json.Unmarshal(b, out)
}
