package admin

import "net/http"

// HandlePublic adds a read-only handler served without the token, such as
// GET /metrics: Prometheus scrapes it like any exporter on loopback,
// without a credential in its config. Only GET (and HEAD) patterns are
// accepted, so nothing that changes the service can be reached this way;
// every other request still goes through the token check. Safe to call
// before or after Start.
func (s *Server) HandlePublic(pattern string, h http.Handler) {
	s.public.Handle(pattern, readOnly(h))
}

// readOnly refuses anything but GET and HEAD, whatever the pattern said.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "only GET reads this without the token")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// root serves the public routes and hands every other request to the
// token check in front of the API.
func (s *Server) root() http.Handler {
	private := s.auth(s.mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, pattern := s.public.Handler(r); pattern != "" {
			h.ServeHTTP(w, r)
			return
		}
		private.ServeHTTP(w, r)
	})
}
