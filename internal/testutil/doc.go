// Package testutil holds the helpers that the tests of several packages
// share: polling a condition on real processes and servers (WaitFor) and
// a buffer that output copiers write while a test reads it (SyncBuffer).
// Only tests import it.
package testutil
