// Package testutil holds the helpers that the tests of several packages
// share: polling a condition on real processes and servers (WaitFor), a
// buffer that output copiers write while a test reads it (SyncBuffer), a
// writer that hands a test each line of a followed stream (LineSink),
// processes for registry entries to point at (EndedPID, Sleeper), a
// daemon's pid file and start lock (ReadPID, StopDaemon, WaitGone,
// HoldLock), a program the test needs (NeedProgram), a receive bounded by
// a timeout (Recv), opening a server-sent event stream (EventStream), the
// record of the calls a fake received (CallLog), and the golden txtar
// files as subtests (EachTxtar) and as a fuzz target's seeds (SeedTxtar).
// Only tests import it.
package testutil
