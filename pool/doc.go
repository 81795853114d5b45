// Package pool runs upscaling jobs off the caller's goroutine, so that a UI
// loop or an HTTP handler stays responsive, can watch progress and cancel,
// and survives a job that crashes or runs out of memory.
//
// A job is a message.Request: an image tensor and its options. [Pool] runs
// jobs on goroutines that share one loaded model. [ProcessPool] runs them in
// worker processes that speak the stream encoding of package message on
// their stdin and stdout (the "upscaler worker" command). It restarts a
// process that crashes or exceeds its memory limit, and retries its job
// once on a fresh process. Both have the same API: Submit or TrySubmit a
// job, then read its Progress, Wait for its Result, or Cancel it. For the
// same request and model both return identical results, byte for byte.
//
// Errors of a job are *message.Error values, whose Kind says what happened:
// canceled, invalid, unknown_model, internal or worker_crashed.
package pool
