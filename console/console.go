package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/switchboard/switchboard/auth"
)

//go:embed assets
var assets embed.FS

// CSRFHeader must be on every action (POST) of an authenticated user; its
// value is ignored. A cross-site form cannot set a header, and a
// cross-site fetch that sets one needs a CORS preflight, which the console
// never answers.
const CSRFHeader = "X-Switchboard-Console"

// DefaultMaxSessions bounds the sessions of each realm in one data
// answer: the page is for looking, and a realm of 100,000 sessions would
// make each second's answer megabytes.
const DefaultMaxSessions = 500

// Config configures a Handler.
type Config struct {
	// Path is where the page is served, without a trailing slash
	// ("/console"); the handler answers Path and everything under it.
	Path string
	// Users may log in. None: nobody can.
	Users []User
	// Backend is the node. Required.
	Backend Backend
	// Limiter slows down addresses with repeated login failures; the
	// router passes the one of WAMP authentication, so that guesses at
	// either count against both. Nil: none.
	Limiter *auth.Limiter
	// Logger logs logins and actions with the admin's name. Nil: discard.
	Logger *slog.Logger
	// Interval is the shortest time between two rate samples. Zero value:
	// DefaultInterval.
	Interval time.Duration
	// History is the number of rate samples kept. Zero value:
	// DefaultHistory.
	History int
	// LoginTTL is how long a form login lasts. Zero value:
	// DefaultLoginTTL.
	LoginTTL time.Duration
	// MaxSessions bounds the sessions listed per realm. Zero value:
	// DefaultMaxSessions.
	MaxSessions int
	// Version is shown on the page. Zero value: the module version and
	// commit the Go toolchain recorded in the binary.
	Version string
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

// Handler serves the console.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	started time.Time
	host    string
	logins  logins
	rates   rates
	login   *template.Template
	static  fs.FS
	// sleep waits out a login delay; tests replace it.
	sleep func(context.Context, time.Duration) error
	now   func() time.Time
}

// New returns the console's handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Backend == nil {
		return nil, errors.New("console: no backend")
	}
	if !strings.HasPrefix(cfg.Path, "/") || strings.HasSuffix(cfg.Path, "/") {
		return nil, errors.New("console: path must start with \"/\" and not end with one")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.History <= 0 {
		cfg.History = DefaultHistory
	}
	if cfg.LoginTTL <= 0 {
		cfg.LoginTTL = DefaultLoginTTL
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.Version == "" {
		cfg.Version = buildVersion()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	tpl, err := template.ParseFS(static, "login.html")
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	h := &Handler{
		cfg:     cfg,
		log:     log,
		started: cfg.Now(),
		host:    host,
		rates:   rates{interval: cfg.Interval, max: cfg.History},
		login:   tpl,
		static:  static,
		sleep:   sleepCtx,
		now:     cfg.Now,
	}
	h.logins.byTok = make(map[string]login)
	h.logins.setUsers(cfg.Users)
	return h, nil
}

// SetUsers replaces the users, as a reload does. Form logins of users
// still listed stay valid.
func (h *Handler) SetUsers(us []User) { h.logins.setUsers(us) }

// Path returns where the console is served.
func (h *Handler) Path() string { return h.cfg.Path }

// Mount adds the console to mux, at Path and under it.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle(h.cfg.Path, h)
	mux.Handle(h.cfg.Path+"/", h)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	rest, ok := strings.CutPrefix(req.URL.Path, h.cfg.Path)
	if !ok {
		http.NotFound(w, req)
		return
	}
	switch {
	case rest == "":
		// Relative links of the page resolve under Path/.
		http.Redirect(w, req, h.cfg.Path+"/", http.StatusMovedPermanently)
	case rest == "/login":
		h.serveLogin(w, req)
	case rest == "/assets/style.css":
		// The login page's style: public, as the login page is.
		h.serveAsset(w, req, "style.css")
	default:
		user, basicFailed := h.authenticate(req)
		if user == "" {
			h.refuse(w, req, rest, basicFailed)
			return
		}
		h.serveAuthed(w, req, rest, user)
	}
}

// refuse answers a request without a valid credential: a page is sent to
// the login form, anything else gets 401 with a Basic challenge, which
// scripts understand.
func (h *Handler) refuse(w http.ResponseWriter, req *http.Request, rest string, basicFailed bool) {
	if rest == "/" && req.Method == http.MethodGet && !basicFailed {
		http.Redirect(w, req, h.cfg.Path+"/login", http.StatusSeeOther)
		return
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="Switchboard console", charset="UTF-8"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "log in first: HTTP Basic authentication or the form at " + h.cfg.Path + "/login"})
}

func (h *Handler) serveAuthed(w http.ResponseWriter, req *http.Request, rest, user string) {
	switch {
	case rest == "/":
		if !methodIs(w, req, http.MethodGet) {
			return
		}
		h.serveAsset(w, req, "index.html")
	case strings.HasPrefix(rest, "/assets/"):
		if !methodIs(w, req, http.MethodGet) {
			return
		}
		h.serveAsset(w, req, strings.TrimPrefix(rest, "/assets/"))
	case rest == "/api/state":
		if !methodIs(w, req, http.MethodGet) {
			return
		}
		writeJSON(w, http.StatusOK, h.Data(user))
	case rest == "/api/kill":
		if h.action(w, req) {
			h.kill(w, req, user)
		}
	case rest == "/api/reload":
		if h.action(w, req) {
			h.reload(w, req, user)
		}
	case rest == "/logout":
		if h.action(w, req) {
			if c, err := req.Cookie(CookieName); err == nil {
				h.logins.logout(c.Value)
			}
			http.SetCookie(w, &http.Cookie{Name: CookieName, Path: h.cfg.Path, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
			h.log.Info("console: logout", "admin", user, "remote", req.RemoteAddr)
			writeJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
		}
	default:
		http.NotFound(w, req)
	}
}

func methodIs(w http.ResponseWriter, req *http.Request, method string) bool {
	if req.Method == method || method == http.MethodGet && req.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", method)
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method " + req.Method + " not allowed: use " + method})
	return false
}

// action checks what every action needs: POST, from this origin, with
// the CSRF header.
func (h *Handler) action(w http.ResponseWriter, req *http.Request) bool {
	if !methodIs(w, req, http.MethodPost) {
		return false
	}
	if req.Header.Get(CSRFHeader) == "" || !sameOrigin(req) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "actions need the " + CSRFHeader + " header and the console's own origin"})
		return false
	}
	return true
}

func (h *Handler) serveAsset(w http.ResponseWriter, req *http.Request, name string) {
	if name == "login.html" || strings.Contains(name, "..") {
		http.NotFound(w, req)
		return
	}
	b, err := fs.ReadFile(h.static, name)
	if err != nil {
		http.NotFound(w, req)
		return
	}
	http.ServeContent(w, req, name, h.started, strings.NewReader(string(b)))
}

// serveLogin shows the login form (GET) and checks it (POST).
func (h *Handler) serveLogin(w http.ResponseWriter, req *http.Request) {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		h.loginPage(w, http.StatusOK, "")
	case http.MethodPost:
		if !sameOrigin(req) {
			h.loginPage(w, http.StatusForbidden, "This form must be sent from the console's own page.")
			return
		}
		req.Body = http.MaxBytesReader(w, req.Body, 64<<10)
		name, password := req.PostFormValue("name"), req.PostFormValue("password")
		if name == "" || !h.verify(req.Context(), req.RemoteAddr, name, password) {
			h.loginPage(w, http.StatusUnauthorized, "Wrong name or password.")
			return
		}
		tok := h.logins.newLogin(name, h.now(), h.cfg.LoginTTL)
		http.SetCookie(w, &http.Cookie{
			Name: CookieName, Value: tok, Path: h.cfg.Path,
			MaxAge: int(h.cfg.LoginTTL / time.Second), HttpOnly: true,
			Secure: req.TLS != nil, SameSite: http.SameSiteStrictMode,
		})
		h.log.Info("console: login", "admin", name, "remote", req.RemoteAddr)
		http.Redirect(w, req, h.cfg.Path+"/", http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method " + req.Method + " not allowed"})
	}
}

func (h *Handler) loginPage(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := h.login.Execute(w, map[string]string{"Error": msg}); err != nil {
		h.log.Debug("console: login page", "error", err)
	}
}

// Data is what the page polls: the node's state, its rates, its config.
type Data struct {
	Version string    `json:"version"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
	Uptime  float64   `json:"uptime_seconds"`
	// User is the admin looking.
	User    string   `json:"user"`
	Totals  Counters `json:"totals"`
	Rates   Rates    `json:"rates"`
	Realms  []Realm  `json:"realms"`
	Cluster *Cluster `json:"cluster"`
	Config  any      `json:"config"`
}

// Data samples the rates (at most once per Interval) and returns what
// the page shows to user.
func (h *Handler) Data(user string) Data {
	now := h.now()
	totals := h.cfg.Backend.Counters()
	rs := h.rates.sample(now, totals)
	st := h.cfg.Backend.State(h.cfg.MaxSessions)
	started := h.cfg.Backend.Started()
	if started.IsZero() {
		started = h.started
	}
	if st.Realms == nil {
		st.Realms = []Realm{}
	}
	return Data{
		Version: h.cfg.Version,
		Host:    h.host,
		Started: started,
		Uptime:  now.Sub(started).Seconds(),
		User:    user,
		Totals:  totals,
		Rates:   rs,
		Realms:  st.Realms,
		Cluster: st.Cluster,
		Config:  Mask(h.cfg.Backend.Config()),
	}
}

type killRequest struct {
	Realm   string `json:"realm"`
	Session uint64 `json:"session"`
	Reason  string `json:"reason"`
}

func (h *Handler) kill(w http.ResponseWriter, req *http.Request, user string) {
	var kr killRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kr); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want JSON {\"realm\": \"realm1\", \"session\": 123, \"reason\": \"why\"}: " + err.Error()})
		return
	}
	if kr.Realm == "" || kr.Session == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "realm and session are required"})
		return
	}
	if len(kr.Reason) > 1024 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "reason is longer than 1024 bytes"})
		return
	}
	if kr.Reason == "" {
		kr.Reason = "killed from the admin console"
	}
	err := h.cfg.Backend.Kill(kr.Realm, kr.Session, kr.Reason)
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	case err != nil:
		h.log.Error("console: kill failed", "admin", user, "realm", kr.Realm, "session", kr.Session, "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	h.log.Info("console: session killed", "admin", user, "remote", req.RemoteAddr, "realm", kr.Realm, "session", kr.Session, "reason", kr.Reason)
	writeJSON(w, http.StatusOK, map[string]any{"status": "killed", "realm": kr.Realm, "session": kr.Session})
}

func (h *Handler) reload(w http.ResponseWriter, req *http.Request, user string) {
	h.log.Info("console: reload asked", "admin", user, "remote", req.RemoteAddr)
	if err := h.cfg.Backend.Reload(); err != nil {
		h.log.Warn("console: reload refused; the running config stays", "admin", user, "error", err)
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// buildVersion is what the Go toolchain recorded of the binary: the
// module version (under go install …@v1.2.3) and the VCS commit.
func buildVersion() string {
	v := "dev"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v + " " + runtime.Version()
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	for _, kv := range bi.Settings {
		if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
			v += " " + kv.Value[:12]
		}
		if kv.Key == "vcs.modified" && kv.Value == "true" {
			v += " (modified)"
		}
	}
	return v + " " + runtime.Version()
}
