// Command upscaler enlarges images with the UpscalerJS super-resolution
// models, manages the local model cache, and runs the upscaling worker and
// HTTP service. Run "upscaler help" for the commands and exit statuses.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses, documented in the root command's help.
const (
	exitOK          = 0
	exitFailure     = 1   // some inputs failed, or a runtime error
	exitUsage       = 2   // unknown flag, invalid value, missing argument
	exitInterrupted = 130 // 128 + SIGINT, as shells report it
)

const rootHelp = `upscaler enlarges images 2x, 3x, 4x or 8x with the UpscalerJS
super-resolution models (ESRGAN slim, medium and thick, the legacy models and a
pixel upsampler), running them in pure Go. The default model, default-model
(the esrgan-slim 2x network), is built in. The others, the esrgan-slim package
included, are downloaded once with "upscaler models pull NAME" into the model
cache ($UPSCALER_CACHE, else the user cache folder).

Examples:
  upscaler upscale photo.jpg                    writes photo@2x.jpg
  upscaler upscale -m esrgan-thick:4x -o big.png photo.jpg
  upscaler upscale -o out/ shots/               every image in shots/ to out/
  cat in.png | upscaler upscale - > out.png
  upscaler models list

Exit status:
  0    success
  1    some inputs failed (each is reported with its reason and the others
       are still written), an existing output without --overwrite, or a
       runtime error such as a model that is not downloaded
  2    bad usage: unknown command or flag, invalid flag value, missing input
  130  interrupted (SIGINT or SIGTERM); the image in progress is not written`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit status. It is the
// only place where errors become exit statuses and are printed.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal the default action comes back, so a second
		// Ctrl-C ends a run that is slow to stop.
		<-ctx.Done()
		stop()
	}()

	root := newRootCommand(&streams{in: stdin, out: stdout, err: stderr})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}

	code := exitUsage
	var se *statusError
	if errors.As(err, &se) {
		code = se.code
	}
	if ctx.Err() != nil && code != exitUsage {
		code = exitInterrupted
	}
	fmt.Fprintf(stderr, "upscaler: %v\n", err)
	if code == exitUsage {
		fmt.Fprintln(stderr, `Run "upscaler help" or "upscaler COMMAND --help" for usage.`)
	}
	return code
}

// streams are the standard streams a command reads and writes, so tests of
// the run functions need no process.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// newRootCommand builds the command tree.
func newRootCommand(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "upscaler",
		Short:         "Enlarge images with AI super-resolution models",
		Long:          rootHelp,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{flagError(err)} })
	root.AddCommand(
		newUpscaleCommand(s),
		newModelsCommand(s),
		newWorkerCommand(s),
		newServeCommand(s),
		newVersionCommand(s),
	)
	return root
}

// usageError marks an error in the command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// flagError rewords the flag package's message for a value that does not
// parse as a number or a boolean, as the command's other messages put it.
func flagError(err error) error {
	var invalid *pflag.InvalidValueError
	var num *strconv.NumError
	if !errors.As(err, &invalid) || !errors.As(err, &num) {
		return err
	}
	want := "a whole number"
	switch num.Func {
	case "ParseFloat":
		want = "a number"
	case "ParseBool":
		want = "true or false"
	}
	return fmt.Errorf("invalid --%s %q: use %s", invalid.GetFlag().Name, invalid.GetValue(), want)
}

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// statusError carries the exit status of an error returned by a run
// function. Errors that reach run without one come from cobra's own
// parsing (unknown command, wrong argument count) and are usage errors.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// runE adapts a run function to cobra: it passes the command's context
// and gives the error its exit status, 2 for a usageError and 1 otherwise.
func runE(fn func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := fn(cmd.Context(), args)
		if err == nil {
			return nil
		}
		code := exitFailure
		var ue usageError
		if errors.As(err, &ue) {
			code = exitUsage
		}
		return &statusError{code: code, err: err}
	}
}
