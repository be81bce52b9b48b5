// Package events owns the one event stream of a running service: the
// Event type (also the control API's wire type), the event types and
// reasons, the Recorder interface the scheduler and the prober's adapter
// write to, and Log, the bounded history with fan-out to followers that
// implements Recorder and backs GET /v1/events.
//
// It is a leaf: it imports nothing of easlocal, so scheduler, prober,
// admin and the CLI can all share it.
//
// Recorder has the shape of the kubelet's record.EventRecorder: the
// caller names what the event is about (a Ref: instance and container),
// the type (Normal or Warning), a reason from the constants below and a
// message sentence; the recorder stamps the time and the sequence number.
package events
