// Package imageio decodes user-supplied images into [image.Image] values and
// writes images to files, for the upscaler library and its command-line tool.
//
// Decoding accepts PNG, JPEG, GIF, WebP, BMP and TIFF from a reader
// ([Decode]), a byte slice ([DecodeBytes]), a file ([DecodeFile]) or a
// base64 data URI ([DecodeDataURI]). The format is detected from the
// content. Every input is checked against [Limits] in two steps: its length
// in bytes, and then the width × height its header declares, before any pixel
// memory is allocated. So a small file that claims to be 100000×100000 pixels
// fails with [ErrTooLarge] instead of exhausting memory. JPEG images are
// turned upright according to their EXIF orientation.
//
// Encoding ([Encode]) writes the same six formats. WebP is encoded without
// cgo, by libwebp compiled to WebAssembly. [WriteFile] and [WriteAtomic]
// write through a temporary file in the destination folder and rename it
// into place, so an interrupted run leaves either the old file or the
// complete new one.
//
// Errors for bad input wrap one of the sentinels [ErrTooLarge], [ErrFormat]
// and [ErrCorrupt], and name the offending value. No function panics on bad
// input. A panic inside a third-party decoder is recovered and returned as
// an [ErrCorrupt] error.
package imageio
