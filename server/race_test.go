//go:build race

package server

// raceEnabled reports that the race detector is on, which slows the code
// down several times and makes latency bounds meaningless.
const raceEnabled = true
