package tile_test

import (
	"fmt"

	"github.com/upscaler-go/upscaler/tile"
)

// The plan for a 200x300 image cut into 128-pixel patches with 2 pixels of
// padding. Each line gives the window that the model receives, the region
// of the image that the patch fills, and that region in the window's own
// coordinates, which is where to crop the model's prediction.
func ExamplePlan() {
	grid, err := tile.Plan(200, 300, 128, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d rows, %d columns, windows of %v pixels\n", grid.Rows, grid.Cols, grid.WindowSize())
	for _, p := range grid.Patches {
		fmt.Printf("patch %d (row %d, col %d): window %v keep %v crop %v\n",
			p.Index, p.Row, p.Col, p.Window, p.Keep, p.KeepInWindow())
	}
	// Output:
	// 3 rows, 2 columns, windows of (128,128) pixels
	// patch 0 (row 0, col 0): window (0,0)-(128,128) keep (0,0)-(126,126) crop (0,0)-(126,126)
	// patch 1 (row 0, col 1): window (72,0)-(200,128) keep (126,0)-(200,126) crop (54,0)-(128,126)
	// patch 2 (row 1, col 0): window (0,124)-(128,252) keep (0,126)-(126,250) crop (0,2)-(126,126)
	// patch 3 (row 1, col 1): window (72,124)-(200,252) keep (126,126)-(200,250) crop (54,2)-(128,126)
	// patch 4 (row 2, col 0): window (0,172)-(128,300) keep (0,250)-(126,300) crop (0,78)-(126,128)
	// patch 5 (row 2, col 1): window (72,172)-(200,300) keep (126,250)-(200,300) crop (54,78)-(128,128)
}

// A model that upscales by 4 returns a 512x512 prediction for each
// 128x128 window. The scaled grid gives where each prediction goes in the
// 800x1200 output and which part of it to keep.
func ExampleGrid_Scaled() {
	grid, err := tile.Plan(200, 300, 128, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := grid.Scaled(4)
	if err != nil {
		fmt.Println(err)
		return
	}
	last := out.Patches[len(out.Patches)-1]
	fmt.Printf("output %dx%d, last prediction covers %v, crop %v\n",
		out.Width, out.Height, last.Window, last.KeepInWindow())
	// Output:
	// output 800x1200, last prediction covers (288,688)-(800,1200), crop (216,312)-(512,512)
}

// RoundUp fits a requested patch size to a model whose input size must be a
// multiple of 4.
func ExampleRoundUp() {
	fmt.Println(tile.RoundUp(130, 4), tile.RoundUp(128, 4), tile.RoundUp(130, 0))
	// Output:
	// 132 128 130
}
