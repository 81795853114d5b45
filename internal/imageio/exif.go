package imageio

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/draw"
)

// JPEG markers used while looking for the EXIF segment.
const (
	markerSOI  = 0xD8 // start of image, no payload
	markerEOI  = 0xD9 // end of image
	markerSOS  = 0xDA // start of scan: entropy-coded data follows
	markerAPP1 = 0xE1 // application segment 1, which holds EXIF
	markerTEM  = 0x01 // temporary marker, no payload
	markerRST0 = 0xD0 // RST0 to RST7 carry no payload
	markerRST7 = 0xD7
)

// tagOrientation is the EXIF and TIFF tag that records how the stored
// pixels must be turned to display the image upright.
const tagOrientation = 0x0112

// jpegOrientation returns the EXIF orientation (1 to 8) of a JPEG file, or 1
// when the file has no EXIF segment, no orientation tag, or a malformed one.
// Only segments before the first scan are examined, because EXIF must be
// stored there.
func jpegOrientation(data []byte) int {
	if len(data) < 2 || data[0] != 0xFF || data[1] != markerSOI {
		return 1
	}
	i := 2
	for i+1 < len(data) {
		if data[i] != 0xFF {
			return 1
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF:
			i++ // fill byte before a marker
			continue
		case marker == markerSOI, marker == markerTEM, marker >= markerRST0 && marker <= markerRST7:
			i += 2
			continue
		case marker == markerSOS, marker == markerEOI:
			return 1
		}

		// Every other marker is followed by a big-endian length that counts
		// itself but not the marker.
		if i+4 > len(data) {
			return 1
		}
		length := int(binary.BigEndian.Uint16(data[i+2:]))
		if length < 2 || i+2+length > len(data) {
			return 1
		}
		segment := data[i+4 : i+2+length]
		if marker == markerAPP1 && bytes.HasPrefix(segment, []byte("Exif\x00\x00")) {
			return tiffOrientation(segment[6:])
		}
		i += 2 + length
	}
	return 1
}

// tiffOrientation reads the orientation tag from the first IFD of a TIFF
// structure, as embedded in an EXIF segment. It returns 1 when the tag is
// missing, out of range or the structure is malformed.
//
// Layout: a byte-order mark ("II" little-endian or "MM" big-endian), the
// number 42, and the offset of IFD0. An IFD is a 2-byte entry count followed
// by 12-byte entries of tag (2), type (2), count (4) and a 4-byte value that
// holds values of up to 4 bytes in place, left-aligned.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var order binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1
	}
	if order.Uint16(t[2:]) != 42 {
		return 1
	}

	ifd := uint64(order.Uint32(t[4:]))
	if ifd+2 > uint64(len(t)) {
		return 1
	}
	entries := uint64(order.Uint16(t[ifd:]))
	for k := uint64(0); k < entries; k++ {
		off := ifd + 2 + 12*k
		if off+12 > uint64(len(t)) {
			return 1
		}
		entry := t[off : off+12]
		if order.Uint16(entry) != tagOrientation {
			continue
		}
		if order.Uint32(entry[4:]) < 1 {
			return 1
		}
		var value uint32
		switch order.Uint16(entry[2:]) {
		case 3: // SHORT, the type the EXIF standard prescribes
			value = uint32(order.Uint16(entry[8:]))
		case 4: // LONG, written by some software
			value = order.Uint32(entry[8:])
		default:
			return 1
		}
		if value < 1 || value > 8 {
			return 1
		}
		return int(value)
	}
	return 1
}

// orient returns img turned upright according to an EXIF orientation. For
// orientation 1 or an invalid value it returns img itself. Otherwise the
// result is a new image with Min at (0, 0): *image.Gray and *image.CMYK keep
// their type, and every other type, including the *image.YCbCr that JPEG
// decoding returns, becomes *image.RGBA.
//
// The orientations, as the EXIF standard defines them by where the stored
// row 0 and column 0 appear when displayed:
//
//	1: top, left        (as stored)
//	2: top, right       (mirrored left to right)
//	3: bottom, right    (turned 180°)
//	4: bottom, left     (mirrored top to bottom)
//	5: left, top        (transposed about the main diagonal)
//	6: right, top       (stored turned 90° counter-clockwise, displayed 90° clockwise)
//	7: right, bottom    (transposed about the anti-diagonal)
//	8: left, bottom     (stored turned 90° clockwise, displayed 90° counter-clockwise)
func orient(img image.Image, orientation int) image.Image {
	if orientation < 2 || orientation > 8 {
		return img
	}

	// Work on the raw bytes of an image type with a flat Pix slice.
	b := img.Bounds()
	var (
		pix    []byte
		stride int
		bpp    int
		base   int
		wrap   func(pix []byte, w, h int) image.Image
	)
	switch src := img.(type) {
	case *image.Gray:
		pix, stride, bpp, base = src.Pix, src.Stride, 1, src.PixOffset(b.Min.X, b.Min.Y)
		wrap = func(pix []byte, w, h int) image.Image {
			return &image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)}
		}
	case *image.CMYK:
		pix, stride, bpp, base = src.Pix, src.Stride, 4, src.PixOffset(b.Min.X, b.Min.Y)
		wrap = func(pix []byte, w, h int) image.Image {
			return &image.CMYK{Pix: pix, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
		}
	default:
		rgba, ok := img.(*image.RGBA)
		if !ok {
			rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
			draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
		}
		pix, stride, bpp, base = rgba.Pix, rgba.Stride, 4, rgba.PixOffset(rgba.Rect.Min.X, rgba.Rect.Min.Y)
		wrap = func(pix []byte, w, h int) image.Image {
			return &image.RGBA{Pix: pix, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
		}
	}

	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if orientation >= 5 {
		dw, dh = h, w
	}

	// The source position of output pixel (dx, dy) is an affine function of
	// dx and dy, so its byte offset is start + dx*stepX + dy*stepY. The three
	// constants come from evaluating the mapping at (0,0), (1,0) and (0,1).
	offset := func(dx, dy int) int {
		sx, sy := sourcePixel(orientation, dx, dy, w, h)
		return base + sy*stride + sx*bpp
	}
	start := offset(0, 0)
	stepX := offset(1, 0) - start
	stepY := offset(0, 1) - start

	out := make([]byte, dw*dh*bpp)
	d := 0
	for dy := 0; dy < dh; dy++ {
		s := start + dy*stepY
		for dx := 0; dx < dw; dx++ {
			copy(out[d:d+bpp], pix[s:s+bpp])
			d += bpp
			s += stepX
		}
	}
	return wrap(out, dw, dh)
}

// sourcePixel returns the stored pixel that appears at (dx, dy) of the
// upright image, for a stored image w pixels wide and h high.
func sourcePixel(orientation, dx, dy, w, h int) (sx, sy int) {
	switch orientation {
	case 2:
		return w - 1 - dx, dy
	case 3:
		return w - 1 - dx, h - 1 - dy
	case 4:
		return dx, h - 1 - dy
	case 5:
		return dy, dx
	case 6:
		return dy, h - 1 - dx
	case 7:
		return w - 1 - dy, h - 1 - dx
	case 8:
		return w - 1 - dy, dx
	}
	return dx, dy
}
