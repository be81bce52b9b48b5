package service

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Key normalisation, as EAS does it before reading a service.json:
//
//   - A dotted key inside an object is the nested key: "metadata":
//     {"eas.termination_grace_period": 30} is metadata.eas.
//     termination_grace_period. Only objects the model reads as structs are
//     expanded; the keys of labels, features and other echoed maps keep
//     their dots ("eas.aliyun.com/extra-ephemeral-storage").
//   - The documented aliases name the same field as the model's key
//     (fieldAliases). The model keeps one spelling, the one the EAS JSON
//     deployment page uses, and the alias's value is moved there.
//
// Both spellings with the same value are one field; with different values
// it is an error naming both paths as the user wrote them. Moved values
// keep the path they were written at (node.path), so every later
// diagnostic about them names what the user wrote.

// fieldAliases maps an alias path to the model path it is the same field
// as. The aliases are EAS's key registry (primary and alias keys of each
// field); the model's spelling is the documented one.
var fieldAliases = []struct{ from, to string }{
	{"name", "metadata.name"},
	{"credential.token", "token"},
	{"credential.docker_auth", "dockerAuth"},
	{"rpc", "metadata.rpc"}, // rpc.keepalive, rpc.worker_threads, rpc.enable_sigterm, ...
	{"metadata.workers", "metadata.rpc.worker_threads"},
	{"metadata.worker_threads", "metadata.rpc.worker_threads"},
	{"metadata.io_threads", "metadata.rpc.io_threads"},
	{"metadata.max_queue_size", "metadata.rpc.max_queue_size"},
	{"runtime.termination_grace_period", "metadata.eas.termination_grace_period"},
	{"runtime.cuda", "metadata.cuda"},
	{"networking.enable_grpc", "metadata.enable_grpc"},
	{"metadata.gateway", "networking.gateway"},
	{"metadata.enable_https", "networking.enable_https"},
	{"metadata.enable_http2", "networking.enable_http2"},
	{"metadata.disable_internet_endpoint", "networking.disable_internet_endpoint"},
	{"metadata.autoscaler", "autoscaler"},
	{"metadata.cronscaler", "cronscaler"},
}

// keyAliases are aliases within one kind of object, wherever it is.
var keyAliases = map[reflect.Type]map[string]string{
	// Third-party EAS guides write the readiness probe readiness_check;
	// the PAI SDK and the model call it health_check.
	reflect.TypeFor[Container](): {"readiness_check": "health_check"},
}

// aliasOnlyObjects are the types of top-level objects that exist only as
// alias sources, so their dotted keys expand too.
var aliasOnlyObjects = map[string]reflect.Type{
	"rpc":        reflect.TypeFor[RPC](),
	"credential": reflect.TypeFor[credential](),
}

// credential is the K-style spelling of token and dockerAuth.
type credential struct {
	Token      string `json:"token"`
	DockerAuth string `json:"docker_auth"`
}

var serviceType = reflect.TypeFor[Service]()

// normalizer holds a key index per object it has touched, so merging
// stays linear in the size of the document: a hostile file of 10 MB has
// hundreds of thousands of keys in one object.
type normalizer struct {
	d   *diagnostics
	idx map[*node]map[string]int
}

// find returns the index of key in the object n, or -1.
func (z *normalizer) find(n *node, key string) int {
	m, ok := z.idx[n]
	if !ok {
		m = make(map[string]int, len(n.members))
		for i, mem := range n.members {
			if _, dup := m[mem.key]; !dup {
				m[mem.key] = i
			}
		}
		z.idx[n] = m
	}
	if i, ok := m[key]; ok {
		return i
	}
	return -1
}

func (z *normalizer) add(n *node, mem member) {
	n.members = append(n.members, mem)
	if m, ok := z.idx[n]; ok {
		m[mem.key] = len(n.members) - 1
	}
}

// remove deletes the members for which drop is true.
func (z *normalizer) remove(n *node, drop func(member) bool) {
	n.members = slices.DeleteFunc(n.members, drop)
	delete(z.idx, n)
}

// normalizeKeys expands dotted keys and applies the aliases on the tree of
// the whole document.
func normalizeKeys(root *node, d *diagnostics) {
	z := &normalizer{d: d, idx: map[*node]map[string]int{}}
	z.expandDots(root, serviceType)
	for _, a := range fieldAliases {
		from := strings.Split(a.from, ".")
		parent := z.lookup(root, from[:len(from)-1])
		if parent == nil {
			continue
		}
		i := z.find(parent, from[len(from)-1])
		if i < 0 {
			continue
		}
		m := parent.members[i]
		z.remove(parent, func(o member) bool { return o.key == m.key })
		if len(parent.members) == 0 && len(from) > 1 {
			// "runtime": {"termination_grace_period": 20} leaves no empty
			// "runtime": {} behind.
			if gp := z.lookup(root, from[:len(from)-2]); gp != nil {
				z.remove(gp, func(g member) bool { return g.val == parent })
			}
		}
		if m.val.kind == kindNull {
			continue
		}
		to := strings.Split(a.to, ".")
		dst := z.ensureObject(root, to[:len(to)-1])
		if dst == nil {
			continue
		}
		z.merge(dst, member{key: to[len(to)-1], val: m.val})
	}
	// An alias-only object emptied by the moves is gone; what is left in
	// one is reported as unknown.
	z.remove(root, func(m member) bool {
		_, aliasOnly := aliasOnlyObjects[m.key]
		return aliasOnly && m.val.kind == kindObject && len(m.val.members) == 0
	})
}

// expandDots rewrites, in every object read as a struct of type t (and
// below), a key "a.b" into "a": {"b": ...}, merged with an "a" already
// there.
func (z *normalizer) expandDots(n *node, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.kind == kindArray && t.Kind() == reflect.Slice:
		for _, item := range n.items {
			z.expandDots(item, t.Elem())
		}
		return
	case n.kind != kindObject || t.Kind() != reflect.Struct:
		return
	}
	fields := fieldsOf(t)
	written := &node{kind: kindObject, members: n.members} // as the user wrote it
	n.members = nil
	delete(z.idx, n)
	for _, m := range written.members {
		if to, ok := keyAliases[t][m.key]; ok {
			if j := z.find(written, to); j >= 0 {
				// Two whole objects for one field are not merged: keep the
				// model's spelling.
				if !sameValue(written.members[j].val, m.val) {
					z.d.errorAt(writtenAt(m.val), "is the same field as %s, and they differ; keep one of them", writtenAt(written.members[j].val))
				}
				continue
			}
			m.key = to
		}
		head, rest, dotted := strings.Cut(m.key, ".")
		if _, known := fields.index[m.key]; known || !dotted || head == "" || rest == "" {
			z.merge(n, m)
			continue
		}
		inner := &node{kind: kindObject, line: m.val.line, members: []member{{key: rest, val: m.val}}}
		z.merge(n, member{key: head, val: inner})
	}
	for _, m := range n.members {
		if ft, ok := childType(t, fields, m.key); ok {
			z.expandDots(m.val, ft)
		}
	}
}

func childType(t reflect.Type, fields *structFields, key string) (reflect.Type, bool) {
	if i, ok := fields.index[key]; ok {
		return t.Field(i).Type, true
	}
	if t == serviceType {
		ft, ok := aliasOnlyObjects[key]
		return ft, ok
	}
	return nil, false
}

// lookup walks object keys from n; nil when a step is missing or not an
// object.
func (z *normalizer) lookup(n *node, keys []string) *node {
	for _, k := range keys {
		if n == nil || n.kind != kindObject {
			return nil
		}
		i := z.find(n, k)
		if i < 0 {
			return nil
		}
		n = n.members[i].val
	}
	if n == nil || n.kind != kindObject {
		return nil
	}
	return n
}

// ensureObject returns the object at keys below root, creating empty
// ones on the way; nil (with an error) when a step holds something else.
func (z *normalizer) ensureObject(root *node, keys []string) *node {
	n := root
	for _, k := range keys {
		var next *node
		if i := z.find(n, k); i >= 0 {
			next = n.members[i].val
		}
		if next == nil || next.kind == kindNull {
			next = &node{kind: kindObject}
			z.remove(n, func(m member) bool { return m.key == k })
			z.add(n, member{key: k, val: next})
		}
		if next.kind != kindObject {
			return nil // the decoder reports the wrong type at that path
		}
		n = next
	}
	return n
}

// merge adds m to the object dst. Two objects under one key merge; two
// equal values are one; anything else is a conflict.
func (z *normalizer) merge(dst *node, m member) {
	i := z.find(dst, m.key)
	if i < 0 {
		z.add(dst, m)
		return
	}
	old := dst.members[i].val
	switch {
	case old.kind == kindNull:
		dst.members[i].val = m.val
	case m.val.kind == kindNull, sameValue(old, m.val):
	case old.kind == kindObject && m.val.kind == kindObject:
		for _, c := range m.val.members {
			z.merge(old, c)
		}
	default:
		a, b := writtenAt(old), writtenAt(m.val)
		z.d.errorAt(a, "is the same field as %s, and they have different values (%s and %s); keep one of them", b, old.describe(), m.val.describe())
	}
}

// writtenAt names where a value was written; an object made by
// normalisation is named by its first written member.
func writtenAt(n *node) string {
	for n.path == "" && n.kind == kindObject && len(n.members) > 0 {
		n = n.members[0].val
	}
	if n.path == "" {
		return rootPath
	}
	return n.path
}

// sameValue compares two JSON values; numbers by value (5000 = 5e3).
func sameValue(a, b *node) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case kindNull:
		return true
	case kindBool:
		return a.b == b.b
	case kindString:
		return a.str == b.str
	case kindNumber:
		if a.str == b.str {
			return true
		}
		x, err1 := strconv.ParseFloat(a.str, 64)
		y, err2 := strconv.ParseFloat(b.str, 64)
		return err1 == nil && err2 == nil && x == y
	case kindArray:
		return slices.EqualFunc(a.items, b.items, sameValue)
	default:
		if len(a.members) != len(b.members) {
			return false
		}
		bm := make(map[string]*node, len(b.members))
		for _, mb := range b.members {
			bm[mb.key] = mb.val
		}
		for _, ma := range a.members {
			if v, ok := bm[ma.key]; !ok || !sameValue(ma.val, v) {
				return false
			}
		}
		return true
	}
}
