package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// arrival is one page as the receiver saw it.
type arrival struct {
	at  time.Time
	key string // the page's key, the same on every retry of one page
	// cycle and step come from the key (incident/N/cycle/C/step/S/...),
	// -1 when it does not have that shape.
	cycle, step int
	// created is the incident's created_at as the page carries it.
	created time.Time
}

// receiver is the people's webhook on loopback: it records the arrival of
// every page, by person and incident, and answers 200 at once.
type receiver struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}

	mu sync.Mutex
	// pages[person][incident] lists the arrivals in order.
	pages    map[string]map[int64][]arrival
	keys     map[string]int
	total    int // pages, a bundle's each counted
	posts    int // HTTP requests
	bundles  int // requests carrying more than one page
	unparsed int
}

func newReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{ln: ln, done: make(chan struct{}), pages: map[string]map[int64][]arrival{},
		keys: map[string]int{}}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(r.done)
		r.srv.Serve(ln)
	}()
	return r, nil
}

func (r *receiver) URL() string { return "http://" + r.ln.Addr().String() }

// Close stops the server and its connections and waits for it.
func (r *receiver) Close() {
	r.srv.Close()
	<-r.done
}

var pageKey = regexp.MustCompile(`^incident/(\d+)/cycle/(\d+)/step/(\d+)/`)

// pageBody is what the receiver reads of a POST: one page (the shape of
// oncall.Page: its key and its incident), or a bundle of pages to one
// person (notify.PageBundle: {"kind": "notify.pages", "pages": [...]}),
// each page in it with its own key.
type pageBody struct {
	Key      string            `json:"key"`
	Incident *pageInc          `json:"incident"`
	Pages    []json.RawMessage `json:"pages"`
}

type pageInc struct {
	ID        int64  `json:"id"`
	CreatedAt string `json:"created_at"`
}

// page is one page as read from a POST.
type page struct {
	key     string
	id      int64 // 0 when neither the body nor the key names one
	created time.Time
	cycle   int
	step    int
}

func readPage(p pageBody, key string) page {
	if p.Key != "" {
		key = p.Key
	}
	pg := page{key: key, cycle: -1, step: -1}
	if p.Incident != nil {
		pg.id = p.Incident.ID
		pg.created, _ = time.Parse(time.RFC3339Nano, p.Incident.CreatedAt)
	}
	if m := pageKey.FindStringSubmatch(key); m != nil {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		pg.cycle, _ = strconv.Atoi(m[2])
		pg.step, _ = strconv.Atoi(m[3])
		if pg.id == 0 {
			pg.id = id
		}
	}
	return pg
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(io.LimitReader(req.Body, 16<<20))
	person, ok := strings.CutPrefix(req.URL.Path, "/page/")
	if !ok || req.Method != http.MethodPost {
		http.NotFound(w, req)
		return
	}
	var outer pageBody
	_ = json.Unmarshal(body, &outer)
	var pages []page
	if len(outer.Pages) > 0 {
		for _, raw := range outer.Pages {
			var p pageBody
			_ = json.Unmarshal(raw, &p)
			pages = append(pages, readPage(p, ""))
		}
	} else {
		pages = append(pages, readPage(outer, req.Header.Get("Idempotency-Key")))
	}
	r.mu.Lock()
	r.posts++
	if len(pages) > 1 {
		r.bundles++
	}
	byInc := r.pages[person]
	if byInc == nil {
		byInc = map[int64][]arrival{}
		r.pages[person] = byInc
	}
	for _, pg := range pages {
		r.total++
		if pg.key != "" {
			r.keys[pg.key]++
		}
		if pg.id == 0 {
			r.unparsed++
			continue
		}
		byInc[pg.id] = append(byInc[pg.id], arrival{at: at, key: pg.key, cycle: pg.cycle, step: pg.step, created: pg.created})
	}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, "{}")
}

// first returns the first page person got about incident id.
func (r *receiver) first(person string, id int64) (arrival, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	as := r.pages[person][id]
	if len(as) == 0 {
		return arrival{}, false
	}
	return as[0], true
}

// firstOfStep returns the first page person got about incident id at
// escalation step step (any step when the keys do not say).
func (r *receiver) firstOfStep(person string, id int64, step int) (arrival, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.pages[person][id] {
		if a.step == step || a.step < 0 {
			return a, true
		}
	}
	return arrival{}, false
}

// incidents is how many distinct incidents person has been paged about.
func (r *receiver) incidents(person string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pages[person])
}

// pageStats counts what arrived: pages in all (each page of a bundle
// counted), the POSTs that carried them and how many of those were
// bundles, pages that named no incident, extra deliveries of one page key
// (the Idempotency-Key of a single page, a bundled page's own key), and
// extra pages of one incident at one escalation step (cycle and step from
// the key; the incident alone when the key does not say) to one person.
type pageStats struct {
	total, posts, bundles, unparsed, dupKeys, dupSteps int
}

func (r *receiver) stats() pageStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := pageStats{total: r.total, posts: r.posts, bundles: r.bundles, unparsed: r.unparsed}
	for _, n := range r.keys {
		s.dupKeys += n - 1
	}
	type step struct{ cycle, step int }
	for _, byInc := range r.pages {
		for _, as := range byInc {
			seen := map[step]bool{}
			for _, a := range as {
				k := step{a.cycle, a.step}
				if seen[k] {
					s.dupSteps++
				}
				seen[k] = true
			}
		}
	}
	return s
}
