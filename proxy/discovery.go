package proxy

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Discovery paths the EAS SDKs poll in direct mode (every 3 s).
const (
	// Go SDK and newer Python SDK: .../upstreams/<service>?internal=<bool>
	discoveryUpstreams = "/exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/"
	// Seen in other SDK versions, same answer shape.
	discoveryServiceDiscovery = "/api/v1/servicediscovery/upstreams/"
	// Older Python SDK: .../namespaces/<service with _ as ->/easendpoints
	discoveryNamespaces = "/exported/apis/eas.alibaba-inc.k8s.io/v1/namespaces/"
)

// DiscoveryWeight is the weight every instance gets (equal weights: the
// SDKs' weighted round robin becomes plain round robin).
const DiscoveryWeight = 100

// Discovery serves the instance list of one service to SDK clients in
// direct mode. It lists the sidecar addresses (127.0.0.1:port, one per
// ready instance), which accept the /api/predict/<service> prefix the SDKs
// send. It needs no token, as in EAS.
type Discovery struct {
	service   string
	namespace string // service with '_' replaced by '-'
	sidecars  *Sidecars
}

// NewDiscovery returns the discovery handler for service, listing sc.
// Mount it with Options.Discovery or on any mux.
func NewDiscovery(service string, sc *Sidecars) *Discovery {
	return &Discovery{service: service, namespace: strings.ReplaceAll(service, "_", "-"), sidecars: sc}
}

// discoveryItem is one instance as the SDKs read it: they format
// "ip:port" and cast weight to float64 (Go) or pass it to their WRR.
type discoveryItem struct {
	IP     string `json:"ip"`
	Port   int    `json:"port"`
	Weight int    `json:"weight"`
}

type itemList struct {
	Items []discoveryItem `json:"items"`
}

// Handles reports whether path is one of the discovery paths (for any
// service): the gateway uses it to route.
func (d *Discovery) Handles(path string) bool {
	return strings.HasPrefix(path, discoveryUpstreams) ||
		strings.HasPrefix(path, discoveryServiceDiscovery) ||
		(strings.HasPrefix(path, discoveryNamespaces) && strings.HasSuffix(path, "/easendpoints"))
}

func (d *Discovery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	var name string
	wrapped := true // {"endpoints": {"items": [...]}}
	switch {
	case strings.HasPrefix(p, discoveryUpstreams):
		name = firstSegment(p[len(discoveryUpstreams):])
	case strings.HasPrefix(p, discoveryServiceDiscovery):
		name = firstSegment(p[len(discoveryServiceDiscovery):])
	case strings.HasPrefix(p, discoveryNamespaces) && strings.HasSuffix(p, "/easendpoints"):
		name = strings.TrimSuffix(p[len(discoveryNamespaces):], "/easendpoints")
		wrapped = false
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "discovery answers GET only", http.StatusMethodNotAllowed)
		return
	}
	if (wrapped && name != d.service) || (!wrapped && name != d.namespace && name != d.service) {
		http.Error(w, "easlocal: service "+quote(name)+" not found: this gateway serves "+quote(d.service), http.StatusNotFound)
		return
	}
	list := itemList{Items: []discoveryItem{}}
	if d.sidecars != nil {
		for _, s := range d.sidecars.List() {
			list.Items = append(list.Items, discoveryItem{IP: s.Addr.Addr().String(), Port: int(s.Addr.Port()), Weight: DiscoveryWeight})
		}
	}
	var v any = list
	if wrapped {
		v = struct {
			Endpoints itemList `json:"endpoints"`
		}{list}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// firstSegment returns s up to the first '/': the Python SDK strips a
// request path from the service name, the Go SDK may not.
func firstSegment(s string) string {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i]
	}
	return s
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }
