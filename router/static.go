package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// staticHandler serves the files of a transport's static directory.
//
// It is deliberately smaller than http.FileServer: no directory listings
// (a directory is served only through its index.html), no dotfiles (a
// .git or .env left in the directory stays private), and every open goes
// through os.Root, so that neither ".." nor a symbolic link can reach a
// file outside the directory. The directory is opened per request rather
// than once, which costs one openat and lets an operator swap the
// directory (a symlinked release) while the node runs.
//
// Caching: each response carries Last-Modified and an ETag made of the
// file's modification time and size, with Cache-Control: no-cache. The
// browser keeps the file and asks again each time, getting 304 Not
// Modified, so that an edited page is seen at once yet costs no transfer
// while unchanged. Range requests are honoured (http.ServeContent).
type staticHandler struct {
	dir string
	log *slog.Logger
}

func newStaticHandler(dir string, log *slog.Logger) *staticHandler {
	return &staticHandler{dir: dir, log: log}
}

// contentTypes fixes the types of the files a web app is made of, rather
// than take them from the system's MIME tables, which differ between
// machines (a .js served as text/plain is refused by browsers under
// nosniff).
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".htm":   "text/html; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".json":  "application/json",
	".map":   "application/json",
	".txt":   "text/plain; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".jpg":   "image/jpeg",
	".jpeg":  "image/jpeg",
	".gif":   "image/gif",
	".webp":  "image/webp",
	".ico":   "image/x-icon",
	".wasm":  "application/wasm",
	".woff2": "font/woff2",
	".woff":  "font/woff",
}

func contentType(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	// Not sniffed: a file of unknown type is offered for download rather
	// than guessed at, which could turn an uploaded file into a page.
	return "application/octet-stream"
}

func (h *staticHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		staticError(w, http.StatusMethodNotAllowed, "method %s not allowed: static files are read with GET or HEAD", r.Method)
		return
	}
	name, ok := staticName(r.URL.Path)
	if !ok {
		staticError(w, http.StatusNotFound, "not found: %s", r.URL.Path)
		return
	}
	root, err := os.OpenRoot(h.dir)
	if err != nil {
		h.log.Error("static: cannot open directory", "dir", h.dir, "error", err)
		staticError(w, http.StatusInternalServerError, "static directory unavailable")
		return
	}
	defer root.Close()

	f, fi, err := openRegular(root, name)
	if err == nil && fi.IsDir() {
		_ = f.Close()
		if !strings.HasSuffix(r.URL.Path, "/") {
			// Relative links in the directory's index.html resolve
			// against the URL, so it must end in "/".
			if _, _, err := openIndex(root, name, true); err == nil {
				redirectSlash(w, r)
				return
			}
			staticError(w, http.StatusNotFound, "not found: %s", r.URL.Path)
			return
		}
		f, fi, err = openIndex(root, name, false)
	} else if err == nil && strings.HasSuffix(r.URL.Path, "/") {
		// A file named as a directory: as a file system would, refuse.
		_ = f.Close()
		err = errNotServed
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotServed) {
			// Permissions, a link out of the directory: tell the
			// operator, not the client.
			h.log.Info("static: refused", "path", r.URL.Path, "error", err)
		}
		staticError(w, http.StatusNotFound, "not found: %s", r.URL.Path)
		return
	}
	defer f.Close()

	hdr := w.Header()
	hdr.Set("Content-Type", contentType(fi.Name()))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size()))
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// errNotServed marks a path that exists but is not served (a device, a
// pipe, a directory without index.html).
var errNotServed = errors.New("not served")

// staticName turns a URL path into a name inside the directory: "." for
// the root, "a/b.html" for /a/b.html. ok is false for paths never served:
// dotfiles and dot-directories, and anything that does not clean to a
// path inside the root.
func staticName(urlPath string) (string, bool) {
	if !strings.HasPrefix(urlPath, "/") || strings.ContainsRune(urlPath, 0) || strings.Contains(urlPath, "\\") {
		return "", false
	}
	for seg := range strings.SplitSeq(urlPath, "/") {
		// ".." included: path.Clean would quietly resolve it, and a
		// client that sends one is probing, not browsing.
		if strings.HasPrefix(seg, ".") {
			return "", false
		}
	}
	name := strings.TrimPrefix(path.Clean(urlPath), "/")
	if name == "" {
		name = "."
	}
	return name, fs.ValidPath(name)
}

// openRegular opens name in root and stats it; a file that is neither a
// regular file nor a directory is errNotServed.
func openRegular(root *os.Root, name string) (*os.File, fs.FileInfo, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		_ = f.Close()
		return nil, nil, errNotServed
	}
	return f, fi, nil
}

// openIndex opens the index.html of directory dir; with probe it only
// checks that there is one.
func openIndex(root *os.Root, dir string, probe bool) (*os.File, fs.FileInfo, error) {
	f, fi, err := openRegular(root, path.Join(dir, "index.html"))
	if err != nil {
		return nil, nil, err
	}
	if fi.IsDir() {
		_ = f.Close()
		return nil, nil, errNotServed
	}
	if probe {
		_ = f.Close()
		return nil, fi, nil
	}
	return f, fi, nil
}

func redirectSlash(w http.ResponseWriter, r *http.Request) {
	u := path.Base(r.URL.Path) + "/"
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	// Relative (http.Redirect would make it absolute), so that the
	// redirect stays right behind a proxy that serves the node under a
	// prefix of its own.
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusMovedPermanently)
}

// staticError answers with a JSON error, as every HTTP error of the
// router does.
func staticError(w http.ResponseWriter, status int, format string, args ...any) {
	h := w.Header()
	h.Del("Content-Type")
	h.Del("ETag")
	h.Del("Cache-Control")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, args...)})
}
