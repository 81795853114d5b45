//go:build race

package testfiles

// Race reports whether the binary was built with the race detector, which
// slows the Go parts of inference several times over.
const Race = true
