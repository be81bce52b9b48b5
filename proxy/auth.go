package proxy

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync"
)

// MaxSignedBody bounds the body of a signed request, which the gateway
// must buffer to check its Content-MD5 (413 above it). Requests with the
// raw token are streamed and not bounded here.
const MaxSignedBody = 256 << 20

// sdkContentType is what both SDKs put in the string to sign.
const sdkContentType = "application/octet-stream"

var (
	errNoToken     = errors.New("missing Authorization header: send the service token as `Authorization: <token>` or sign the request as the EAS SDKs do")
	errBadToken    = errors.New("the token in the Authorization header is not this service's token")
	errBadSig      = errors.New("the EAS signature in the Authorization header does not match (wrong token, or Content-MD5, Content-Type, Date or path changed after signing)")
	errMD5Mismatch = errors.New("the request body does not match its Content-MD5 header")
	errMD5Missing  = errors.New("a signed request needs a Content-MD5 header with the hex MD5 of the body")
	errBodyTooBig  = errors.New("the signed request body is larger than the gateway buffers (256 MiB)")
)

// verifier checks EAS tokens. It is immutable after newVerifier and shared
// by the gateway and every sidecar.
type verifier struct {
	tokenSum [sha256.Size]byte // raw form compared by hash: no length leak
	resource string            // "/api/predict/<service>"
	macs     sync.Pool         // of hash.Hash (HMAC-SHA1 keyed with the token)
}

func newVerifier(token, service string) *verifier {
	v := &verifier{tokenSum: sha256.Sum256([]byte(token)), resource: "/api/predict/" + service}
	key := []byte(token)
	v.macs.New = func() any { return hmac.New(sha1.New, key) }
	return v
}

// check authorizes r. It returns the buffered body for a signed request
// (which must then be sent instead of r.Body; nil means empty), or an
// error and the HTTP status to answer with.
func (v *verifier) check(r *http.Request) (body []byte, signed bool, status int, err error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return nil, false, http.StatusUnauthorized, errNoToken
	}
	sum := sha256.Sum256([]byte(auth))
	if subtle.ConstantTimeCompare(sum[:], v.tokenSum[:]) == 1 {
		return nil, false, 0, nil
	}
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") && isGRPC(r) {
		// "Bearer <token>": what EAS documents for gRPC calls (for them only).
		sum = sha256.Sum256([]byte(strings.TrimSpace(auth[7:])))
		if subtle.ConstantTimeCompare(sum[:], v.tokenSum[:]) == 1 {
			return nil, false, 0, nil
		}
		return nil, false, http.StatusUnauthorized, errBadToken
	}
	sig, ok := strings.CutPrefix(auth, "EAS ")
	if !ok {
		return nil, false, http.StatusUnauthorized, errBadToken
	}
	if !v.signatureOK(r, strings.TrimSpace(sig)) {
		return nil, true, http.StatusUnauthorized, errBadSig
	}
	// The signature covers Content-MD5, so the body must match it.
	want := strings.TrimSpace(r.Header.Get("Content-MD5"))
	if want == "" {
		return nil, true, http.StatusUnauthorized, errMD5Missing
	}
	body, err = readBody(r)
	if err != nil {
		if errors.Is(err, errBodyTooBig) {
			return nil, true, http.StatusRequestEntityTooLarge, err
		}
		return nil, true, http.StatusBadRequest, err
	}
	got := md5.Sum(body)
	if !strings.EqualFold(hex.EncodeToString(got[:]), want) {
		return nil, true, http.StatusUnauthorized, errMD5Mismatch
	}
	return body, true, 0, nil
}

// signatureOK tries the resources and content types real SDKs sign with:
// the Python SDK signs "/api/predict/<service>", the Go SDK appends its
// request path (which then equals the request URI); both sign
// "application/octet-stream", which a Go SDK user may override in the
// header afterwards with AddHeader.
func (v *verifier) signatureOK(r *http.Request, sig string) bool {
	var want [sha1.Size]byte
	if base64.StdEncoding.DecodedLen(len(sig)) < sha1.Size {
		return false
	}
	var dec [64]byte
	if len(sig) > base64.StdEncoding.EncodedLen(len(dec)) {
		return false
	}
	n, err := base64.StdEncoding.Decode(dec[:], []byte(sig))
	if err != nil || n != sha1.Size {
		return false
	}
	copy(want[:], dec[:n])

	mac := v.macs.Get().(hash.Hash)
	defer v.macs.Put(mac)
	md5h := r.Header.Get("Content-MD5")
	date := r.Header.Get("Date")
	ctype := r.Header.Get("Content-Type")
	resources := [...]string{v.resource, r.URL.EscapedPath(), r.RequestURI, r.URL.Path}
	ctypes := [...]string{ctype, sdkContentType}
	var got [sha1.Size]byte
	for ci, ct := range ctypes {
		if ci > 0 && ct == ctypes[0] {
			continue
		}
		for ri, res := range resources {
			if ri > 0 && (res == "" || res == resources[ri-1]) {
				continue
			}
			mac.Reset()
			io.WriteString(mac, r.Method)
			io.WriteString(mac, "\n")
			io.WriteString(mac, md5h)
			io.WriteString(mac, "\n")
			io.WriteString(mac, ct)
			io.WriteString(mac, "\n")
			io.WriteString(mac, date)
			io.WriteString(mac, "\n")
			io.WriteString(mac, res)
			if hmac.Equal(mac.Sum(got[:0]), want[:]) {
				return true
			}
		}
	}
	return false
}

// growAhead bounds the memory reserved for a signed body before its
// bytes arrive.
const growAhead = 1 << 20

// readBody reads a signed request's whole body (bounded by MaxSignedBody).
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxSignedBody {
		return nil, errBodyTooBig
	}
	var b bytes.Buffer
	if r.ContentLength > 0 {
		// Reserve what was claimed only up to a small size: larger
		// bodies grow the buffer as their bytes arrive.
		b.Grow(int(min(r.ContentLength, growAhead)) + bytes.MinRead)
	}
	if _, err := b.ReadFrom(io.LimitReader(r.Body, MaxSignedBody+1)); err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if b.Len() > MaxSignedBody {
		return nil, errBodyTooBig
	}
	return b.Bytes(), nil
}
