package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/containerd/errdefs/pkg/errhttp"

	"github.com/easlocal/easlocal/events"
)

// Client calls a service's control API; the CLI builds one from a
// registry Entry with NewClient.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:41234
	Token   string // Options.Token of the server, if any
	HTTP    *http.Client
}

// NewClient returns a client for the service e.
func NewClient(e Entry) *Client {
	return &Client{BaseURL: e.AdminURL, Token: e.AdminToken, HTTP: http.DefaultClient}
}

// APIError is an error answer of the API; Message is its sentence. It
// unwraps to the errdefs class of its status code (errhttp.ToNative), so
// callers test errdefs.IsNotFound(err) and the like.
type APIError struct {
	StatusCode int
	Message    string
}

func (e *APIError) Error() string { return e.Message }

func (e *APIError) Unwrap() error { return errhttp.ToNative(e.StatusCode) }

// Status returns the service's instances and containers.
func (c *Client) Status(ctx context.Context) (ServiceStatus, error) {
	var st ServiceStatus
	err := c.call(ctx, http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// Endpoints returns the ready endpoints.
func (c *Client) Endpoints(ctx context.Context) ([]Endpoint, error) {
	var eps []Endpoint
	err := c.call(ctx, http.MethodGet, "/v1/endpoints", nil, &eps)
	return eps, err
}

// Events returns the retained events with Seq >= since and the next Seq.
func (c *Client) Events(ctx context.Context, since int) ([]events.Event, int, error) {
	var p EventsPage
	err := c.call(ctx, http.MethodGet, "/v1/events", url.Values{"since": {strconv.Itoa(since)}}, &p)
	return p.Events, p.Next, err
}

// FollowEvents calls fn for each event with Seq >= since, then for every
// new one, until ctx is done (it returns nil then), the service ends the
// stream (nil) or fn fails (its error).
func (c *Client) FollowEvents(ctx context.Context, since int, fn func(events.Event) error) error {
	body, err := c.stream(ctx, "/v1/events", url.Values{"since": {strconv.Itoa(since)}, "follow": {"1"}})
	if err != nil {
		return err
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var e events.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("the control API sent a malformed event: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("the event stream from %s broke: %w", c.BaseURL, err)
	}
	return nil // the service ended the stream: it is going away
}

// Logs opens a container's log; with follow it stays open and delivers
// new output, across restarts, until ctx is done or the instance is gone.
// container "" is the instance's first container. Close the reader.
func (c *Client) Logs(ctx context.Context, instance, container string, follow bool) (io.ReadCloser, error) {
	q := url.Values{"instance": {instance}}
	if container != "" {
		q.Set("container", container)
	}
	if follow {
		q.Set("follow", "1")
	}
	return c.stream(ctx, "/v1/logs", q)
}

// Kill sends a signal ("" is SIGKILL) to the instance's containers.
func (c *Client) Kill(ctx context.Context, instance, signal string) error {
	q := url.Values{}
	if signal != "" {
		q.Set("signal", signal)
	}
	return c.call(ctx, http.MethodPost, "/v1/instances/"+url.PathEscape(instance)+"/kill", q, nil)
}

// Pause freezes an instance.
func (c *Client) Pause(ctx context.Context, instance string) error {
	return c.call(ctx, http.MethodPost, "/v1/instances/"+url.PathEscape(instance)+"/pause", nil, nil)
}

// Unpause thaws an instance.
func (c *Client) Unpause(ctx context.Context, instance string) error {
	return c.call(ctx, http.MethodPost, "/v1/instances/"+url.PathEscape(instance)+"/unpause", nil, nil)
}

// Scale sets the number of instances.
func (c *Client) Scale(ctx context.Context, n int) error {
	return c.call(ctx, http.MethodPost, "/v1/scale", url.Values{"n": {strconv.Itoa(n)}}, nil)
}

// Down asks the service to shut down; it returns once the request is
// accepted, not when the service is gone.
func (c *Client) Down(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/v1/down", nil, nil)
}

func (c *Client) call(ctx context.Context, method, path string, q url.Values, out any) error {
	resp, err := c.do(ctx, method, path, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("the control API at %s sent a malformed answer to %s: %w", c.BaseURL, path, err)
	}
	return nil
}

func (c *Client) stream(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	resp, err := c.do(ctx, http.MethodGet, path, q)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// do sends the request and turns error answers into *APIError.
func (c *Client) do(ctx context.Context, method, path string, q url.Values) (*http.Response, error) {
	return c.send(ctx, method, path, q, nil)
}

// send is do with a JSON request body (nil for none).
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Response, error) {
	u := strings.TrimSuffix(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("control API URL %q: %w", c.BaseURL, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach the service's control API at %s (has it just stopped?): %w", c.BaseURL, err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	var eb errorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
	if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
		eb.Error = fmt.Sprintf("the control API answered %s to %s %s", resp.Status, method, path)
	}
	return nil, &APIError{StatusCode: resp.StatusCode, Message: eb.Error}
}
