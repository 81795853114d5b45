package imageio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"math"
	"net/url"
	"strings"
)

// DecodeDataURI decodes an image from a data URI (RFC 2397) such as
// "data:image/png;base64,iVBORw0KGgo...", as Decode does.
//
// The payload must be base64, in the standard or URL-safe alphabet, with or
// without padding. ASCII whitespace and percent-encoding in it are removed
// first. The media type may be omitted ("data:;base64,...") or be any image
// type. The format is always detected from the decoded bytes, so a media type
// that names another supported format than the content is not an error. A
// non-image media type or an image type this package cannot decode is an
// error wrapping ErrFormat.
func DecodeDataURI(uri string, lim Limits) (image.Image, Format, error) {
	lim, err := lim.resolve()
	if err != nil {
		return nil, "", fmt.Errorf("imageio: decode data URI: %w", err)
	}
	data, err := parseDataURI(uri, lim.MaxBytes)
	if err != nil {
		return nil, "", fmt.Errorf("imageio: decode data URI: %w", err)
	}
	img, f, err := decodeData(data, lim)
	if err != nil {
		return nil, "", fmt.Errorf("imageio: decode data URI: %w", err)
	}
	return img, f, nil
}

// parseDataURI checks the header of a data URI and returns its decoded
// payload, failing with ErrTooLarge when the payload would exceed maxBytes.
func parseDataURI(uri string, maxBytes int64) ([]byte, error) {
	uri = strings.TrimSpace(uri)
	const scheme = "data:"
	if len(uri) < len(scheme) || !strings.EqualFold(uri[:len(scheme)], scheme) {
		return nil, fmt.Errorf("input %q is not a data URI, which must start with %q", preview(uri), scheme)
	}
	comma := strings.IndexByte(uri, ',')
	if comma < 0 {
		return nil, fmt.Errorf("data URI %q has no comma between header and data", preview(uri))
	}
	header, payload := uri[len(scheme):comma], uri[comma+1:]

	// Step 1: the header is [media type][;parameter]...[;base64].
	params := strings.Split(header, ";")
	mediaType := strings.ToLower(strings.TrimSpace(params[0]))
	if !strings.EqualFold(strings.TrimSpace(params[len(params)-1]), "base64") || len(params) < 2 {
		return nil, fmt.Errorf("data URI header %q lacks \";base64\": only base64 data is supported, so encode the image bytes as base64 and add \";base64\" before the comma", header)
	}
	if mediaType != "" {
		if !strings.HasPrefix(mediaType, "image/") {
			return nil, fmt.Errorf("%w: media type %q is not an image type", ErrFormat, mediaType)
		}
		if _, ok := mimeFormats[mediaType]; !ok {
			return nil, fmt.Errorf("%w: media type %q is not supported, use image/png, image/jpeg, image/gif, image/webp, image/bmp or image/tiff",
				ErrFormat, mediaType)
		}
	}

	// Step 2: reject payloads too long to fit the limit even after removing
	// whitespace and percent-encoding (at most 3 characters per base64
	// character), before copying them.
	if maxBytes < math.MaxInt64/16 && int64(len(payload)) > 3*(4*(maxBytes/3+1))+64 {
		return nil, overBytes("data URI has %d characters of data, too many for the limit of %d bytes", len(payload), maxBytes)
	}

	// Step 3: normalise the payload to unpadded base64.
	if strings.Contains(payload, "%") {
		unescaped, err := url.PathUnescape(payload)
		if err != nil {
			return nil, fmt.Errorf("invalid percent-encoding in data: %w", err)
		}
		payload = unescaped
	}
	payload = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', '\f':
			return -1
		}
		return r
	}, payload)
	payload = strings.TrimRight(payload, "=")
	if payload == "" {
		return nil, errors.New("data URI has no data after the comma")
	}

	// Step 4: check the decoded size before allocating it.
	encoding := base64.RawStdEncoding
	if strings.ContainsAny(payload, "-_") {
		encoding = base64.RawURLEncoding
	}
	if n := int64(encoding.DecodedLen(len(payload))); n > maxBytes {
		return nil, overBytes("data URI holds %d bytes, over the limit of %d", n, maxBytes)
	}
	data, err := encoding.DecodeString(payload)
	if err != nil {
		return nil, fmt.Errorf("invalid base64 data: %w", err)
	}
	return data, nil
}

// preview shortens s for an error message.
func preview(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}

// DataURI encodes img as PNG and returns it as a "data:image/png;base64,"
// URI, which browsers accept as an image source.
func DataURI(img image.Image) (string, error) {
	if err := checkEncode(img, PNG, 0); err != nil {
		return "", fmt.Errorf("imageio: data URI: %w", err)
	}
	var buf bytes.Buffer
	if err := encode(&buf, img, PNG, 0); err != nil {
		return "", fmt.Errorf("imageio: data URI: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}
