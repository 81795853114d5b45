// Package browser holds the real-browser tests of the upscaler web page
// served by package server. The tests drive Chromium through the DevTools
// protocol (chromedp) and contain no library code.
//
// They need /usr/bin/chromium (Debian package chromium) and skip without
// it, unless UPSCALER_REQUIRE_BROWSER=1 makes a missing browser a failure.
// Screenshots go to the folder named by UPSCALER_ARTIFACTS, or to a
// temporary folder; UPSCALER_UPDATE_SCREENSHOT=1 also writes the "after"
// screenshot to docs/screenshot.png. UPSCALER_STRICT_TIMING=1 adds the bound
// of 100 ms on the worst frame gap during a worker upscale, for machines with
// spare cores; by default that gap must be under half the worst gap of the
// same upscale on the UI thread.
package browser
