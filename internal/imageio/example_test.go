package imageio_test

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"

	"github.com/upscaler-go/upscaler/internal/imageio"
)

func ExampleDecodeDataURI() {
	// A 1×1 PNG holding one opaque red pixel.
	const uri = "data:image/png;base64," +
		"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
	img, format, err := imageio.DecodeDataURI(uri, imageio.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(format, img.Bounds().Size(), img.At(0, 0))
	// Output: png (1,1) {255 0 0 255}
}

func ExampleDecodeBytes_limits() {
	// A PNG signature and IHDR chunk (with its CRC) that declare
	// 100000×100000 pixels, and no image data. The size check runs before
	// any pixel memory is allocated.
	data := []byte("\x89PNG\r\n\x1a\n" +
		"\x00\x00\x00\x0dIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x06\x00\x00\x00\xa8\x52\x0b\xc8")
	_, _, err := imageio.DecodeBytes(data, imageio.Limits{})
	fmt.Println(errors.Is(err, imageio.ErrTooLarge))
	fmt.Println(err)
	// Output:
	// true
	// imageio: decode: png: image too large: declared size 100000x100000 is 10000000000 pixels, over the limit of 100000000 (raise Limits.MaxPixels)
}

func ExampleWriteFile() {
	dir, err := os.MkdirTemp("", "imageio-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	img := image.NewNRGBA(image.Rect(0, 0, 4, 2))
	img.Set(0, 0, color.NRGBA{R: 255, A: 128})
	path := filepath.Join(dir, "out.png")

	// The format comes from the extension; quality 0 is the default.
	if err := imageio.WriteFile(path, img, "", 0, false); err != nil {
		fmt.Println(err)
		return
	}
	// A second write without overwrite keeps the first file.
	err = imageio.WriteFile(path, img, imageio.PNG, 0, false)
	fmt.Println(errors.Is(err, os.ErrExist))

	back, format, err := imageio.DecodeFile(path, imageio.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(format, back.Bounds().Size(), imageio.HasAlpha(back))
	// Output:
	// true
	// png (4,2) true
}
