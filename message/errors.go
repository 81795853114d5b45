package message

import (
	"errors"
	"fmt"
)

// DecodeError reports a message that a decoder or Validate rejected. A
// worker sends the Error message from Reply in response and continues
// reading, unless Fatal is set.
type DecodeError struct {
	// ID is the request ID from the frame header, or empty when the header
	// could not be read that far.
	ID string

	// Kind classifies the failure for the Error reply.
	Kind ErrorKind

	// Fatal reports that the decoder lost the frame boundary: every later
	// Reader.ReadMessage returns the same error, and the caller should send
	// the reply and close the stream. It is set for a bad magic number and
	// for lengths over the Limits, which the Reader does not skip.
	Fatal bool

	// Err describes what is wrong with the message.
	Err error

	// Advice, when set, names what the program that set the Limits can
	// change, such as "raise Limits.MaxPixels". A service that sets its
	// limits from its own settings builds its replies from Err instead.
	Advice string
}

// Error returns the description and advice, prefixed with "message: " and
// the request ID when it is known.
func (e *DecodeError) Error() string {
	msg := e.Err.Error()
	if e.Advice != "" {
		msg += "; " + e.Advice
	}
	if e.ID != "" {
		return fmt.Sprintf("message: request %q: %s", e.ID, msg)
	}
	return "message: " + msg
}

// Unwrap returns e.Err.
func (e *DecodeError) Unwrap() error { return e.Err }

// Reply returns the Error message to send in response to the rejected
// message.
func (e *DecodeError) Reply() *Error {
	return &Error{ID: e.ID, Kind: e.Kind, Message: e.Error()}
}

// invalidf returns a non-fatal DecodeError of kind KindInvalid.
func invalidf(format string, args ...any) *DecodeError {
	return &DecodeError{Kind: KindInvalid, Err: fmt.Errorf(format, args...)}
}

// tooLargef returns a non-fatal DecodeError of kind KindTooLarge with
// advice.
func tooLargef(advice, format string, args ...any) *DecodeError {
	return &DecodeError{Kind: KindTooLarge, Err: fmt.Errorf(format, args...), Advice: advice}
}

// withID sets the request ID of err when err is a *DecodeError without one.
func withID(err error, id string) error {
	var de *DecodeError
	if errors.As(err, &de) && de.ID == "" {
		de.ID = id
	}
	return err
}
