// Package endpoints owns the live list of ready instances of one service:
// the set the gateway routes to and the direct-mode discovery lists.
//
// A Set is written by the scheduler (Set when an instance becomes ready,
// Remove before it is stopped or when it turns unready) and read on every
// request by the gateway. Readers call Snapshot, which loads an immutable,
// sorted *Snapshot through an atomic pointer: the request path takes no
// lock and never sees a half-applied change. Writers are serialized by a
// mutex and publish a new snapshot (with a new Version) per real change;
// calls that change nothing publish nothing and emit nothing.
//
// Every real change is an event (Change: time, Added or Removed, the
// endpoint, the count after the change). Two ways to receive them:
//
//   - Subscribe returns a buffered channel. The writer never blocks on a
//     slow subscriber: when the buffer (SubscribeBuffer events) is full the
//     OLDEST queued event is dropped to make room for the new one, and the
//     subscriber's Dropped counter grows. A subscriber that needs the
//     current state rather than the history should re-read Snapshot after
//     each event; it is always up to date when the event is received.
//   - OnChange registers a callback run synchronously by the writer, in
//     order, after the new snapshot is published and before Set/Remove
//     return. It must be quick and must not call Set or Remove (deadlock).
//     proxy.Sidecars uses it so a removed instance's sidecar is closed
//     before Remove returns.
//
// Changing an instance's address (Set with a different IP or port) is two
// events: Removed (old endpoint) then Added (new one).
package endpoints
