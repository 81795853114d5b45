package nn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/upscaler-go/upscaler/tensor"
)

// interpret runs g node by node, each layer into a fresh contiguous buffer
// on one thread, without fusion or buffer planning. It is the reference
// for Model.Run.
func interpret(t *testing.T, g *Graph, in *tensor.Tensor) View {
	t.Helper()
	h, w, c, err := in.HWC()
	if err != nil {
		t.Fatal(err)
	}
	views := map[*Node]View{}
	for _, n := range g.Nodes() {
		if n.Layer() == nil {
			views[n] = View{Data: in.Data, H: h, W: w, C: c, Stride: c}
			continue
		}
		var ins []View
		var shapes []Shape
		for _, i := range n.Inputs() {
			ins = append(ins, views[i])
			shapes = append(shapes, views[i].Shape())
		}
		s, err := n.Layer().OutputShape(shapes)
		if err != nil {
			t.Fatalf("%s: %v", n.Name(), err)
		}
		out := View{Data: make([]float32, s.Size()), H: s.H, W: s.W, C: s.C, Stride: s.C}
		if err := n.Layer().Forward(context.Background(), &Env{threads: 1}, ins, out); err != nil {
			t.Fatalf("%s: %v", n.Name(), err)
		}
		views[n] = out
	}
	return views[g.Output()]
}

// randomConv returns a k×k "same" convolution with bias and the given
// activation.
func randomConv(t *testing.T, r *rand.Rand, k, in, out int, act string) *Conv2D {
	t.Helper()
	f, err := LookupFunc(act)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConv2D(randomTensor(r, 0.5, k, k, in, out), randomSlice(r, out), ConvConfig{Padding: Same, Activation: f})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func relu() *Activation {
	f, _ := LookupFunc("relu")
	return &Activation{ClassName: "Activation", Func: f}
}

// denseBlock builds the shape of an RDN dense block: each 3×3 convolution
// reads the concatenation of everything before it, a 1×1 convolution fuses
// the result, and the block input is added back.
func denseBlock(t *testing.T, r *rand.Rand, c, growth, layers int) *Graph {
	t.Helper()
	b := NewBuilder()
	x := b.Input("in", Shape{Dynamic, Dynamic, c})
	cat, width := x, c
	for i := range layers {
		conv := b.Add(fmt.Sprintf("conv%d", i), randomConv(t, r, 3, width, growth, "linear"), cat)
		act := b.Add(fmt.Sprintf("relu%d", i), relu(), conv)
		cat = b.Add(fmt.Sprintf("cat%d", i), &Concatenate{}, cat, act)
		width += growth
	}
	lff := b.Add("lff", randomConv(t, r, 1, width, c, "linear"), cat)
	sum := b.Add("sum", &Merge{Op: Add}, lff, x)
	g, err := b.Build(sum)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// checkRun compares m.Run with the interpreter on in.
func checkRun(t *testing.T, m *Model, in *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	want := interpret(t, m.Graph(), in)
	got, err := m.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Shape) != fmt.Sprint([]int{want.H, want.W, want.C}) {
		t.Fatalf("Run output shape = %v, want [%d %d %d]", got.Shape, want.H, want.W, want.C)
	}
	for i, v := range got.Data {
		if d := math.Abs(float64(v - want.Data[i])); !(d <= 1e-5*max(1, math.Abs(float64(want.Data[i])))) {
			t.Fatalf("Run output %d = %v, want %v (from running node by node)", i, v, want.Data[i])
		}
	}
	return got
}

// buildGraph builds the graph that f makes from an input "in" of any size
// with 3 channels.
func buildGraph(t *testing.T, f func(b *Builder, x *Node) *Node) *Graph {
	t.Helper()
	b := NewBuilder()
	x := b.Input("in", Shape{Dynamic, Dynamic, 3})
	g, err := b.Build(f(b, x))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// stepNamed returns the index of the compiled step with the given name.
func stepNamed(t *testing.T, m *Model, name string) int {
	t.Helper()
	for i := range m.steps {
		if m.steps[i].name == name {
			return i
		}
	}
	t.Fatalf("no step %q", name)
	return -1
}

func TestDenseBlockInPlaceConcatenation(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	g := denseBlock(t, r, 4, 3, 4)
	for _, threads := range []int{1, 2} {
		m, err := Compile(g, Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		// Every ReLU is fused into its convolution, and every output but the
		// block input is written straight into the last concatenation.
		if got, want := len(m.steps), 1+4*2+2; got != want {
			t.Errorf("%d steps after fusion, want %d", got, want)
		}
		for i := range 4 {
			s := stepNamed(t, m, fmt.Sprintf("relu%d", i))
			if _, ok := m.steps[s].layer.(*Conv2D); !ok {
				t.Errorf("relu%d is a %T, want a Conv2D with the ReLU fused", i, m.steps[s].layer)
			}
			if root, _ := m.root(s); m.steps[root].name != "cat3" {
				t.Errorf("relu%d is stored in the buffer of %q, want cat3", i, m.steps[root].name)
			}
		}
		for _, size := range [][2]int{{9, 7}, {1, 1}, {17, 33}} {
			t.Run(fmt.Sprintf("threads%d_%dx%d", threads, size[0], size[1]), func(t *testing.T) {
				checkRun(t, m, randomTensor(r, 1, size[0], size[1], 4))
			})
		}
	}
}

func TestConcatenationPlanning(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	build := func(f func(b *Builder, x *Node) *Node) *Graph { return buildGraph(t, f) }
	tests := []struct {
		name  string
		graph *Graph
	}{
		{"node in two concatenations", build(func(b *Builder, x *Node) *Node {
			y := b.Add("y", randomConv(t, r, 3, 3, 2, "relu"), x)
			catA := b.Add("catA", &Concatenate{}, y, x)
			catB := b.Add("catB", &Concatenate{}, y, catA)
			return b.Add("out", randomConv(t, r, 1, 7, 3, "linear"), catB)
		})},
		{"node twice in one concatenation", build(func(b *Builder, x *Node) *Node {
			y := b.Add("y", randomConv(t, r, 3, 3, 2, "linear"), x)
			cat := b.Add("cat", &Concatenate{}, y, y, x)
			return b.Add("out", randomConv(t, r, 3, 7, 3, "linear"), cat)
		})},
		{"concatenation is the output", build(func(b *Builder, x *Node) *Node {
			y := b.Add("y", randomConv(t, r, 3, 3, 2, "relu"), x)
			z := b.Add("z", &UpSampling2D{SizeH: 1, SizeW: 1}, y)
			return b.Add("cat", &Concatenate{}, z, y, x)
		})},
		{"concatenation inside concatenation", build(func(b *Builder, x *Node) *Node {
			y := b.Add("y", randomConv(t, r, 3, 3, 2, "linear"), x)
			z := b.Add("z", &Merge{Op: Multiply}, y, y)
			inner := b.Add("inner", &Concatenate{}, y, z)
			w := b.Add("w", randomConv(t, r, 1, 4, 1, "sigmoid"), inner)
			outer := b.Add("outer", &Concatenate{}, x, inner, w)
			return b.Add("out", &Merge{Op: Add}, b.Add("a", randomConv(t, r, 3, 8, 3, "linear"), outer), x)
		})},
		{"concatenation read after its inputs' buffers would be freed", build(func(b *Builder, x *Node) *Node {
			y := b.Add("y", randomConv(t, r, 3, 3, 3, "linear"), x)
			cat := b.Add("cat", &Concatenate{}, y, x)
			big := b.Add("big", randomConv(t, r, 3, 6, 5, "relu"), cat)
			more := b.Add("more", randomConv(t, r, 3, 5, 6, "linear"), big)
			return b.Add("out", &Merge{Op: Subtract}, more, cat)
		})},
		{"upsampling and depth-to-space into a concatenation", build(func(b *Builder, x *Node) *Node {
			up := b.Add("up", &UpSampling2D{SizeH: 2, SizeW: 2, Interpolation: Bilinear}, x)
			y := b.Add("y", randomConv(t, r, 3, 3, 12, "linear"), x)
			ps := b.Add("ps", &DepthToSpace{ClassName: "PixelShuffle2x", Block: 2}, y)
			cat := b.Add("cat", &Concatenate{}, up, ps)
			return b.Add("out", randomConv(t, r, 3, 6, 3, "linear"), cat)
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compile(tt.graph, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				checkRun(t, m, randomTensor(r, 1, 6, 5, 3))
				checkRun(t, m, randomTensor(r, 1, 3, 8, 3))
			}
		})
	}
}

func TestActivationFusion(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	leaky := &Activation{ClassName: "LeakyReLU", Func: LeakyReLUFunc(0.2)}
	sigmoid, _ := LookupFunc("sigmoid")
	tests := []struct {
		name  string
		build func(b *Builder, x *Node) *Node
		steps int // steps after fusion, counting the input
	}{
		{"relu fused", func(b *Builder, x *Node) *Node {
			return b.Add("act", relu(), b.Add("conv", randomConv(t, r, 3, 3, 4, "linear"), x))
		}, 2},
		{"leaky relu fused", func(b *Builder, x *Node) *Node {
			return b.Add("act", leaky, b.Add("conv", randomConv(t, r, 3, 3, 4, "linear"), x))
		}, 2},
		{"sigmoid not fusable", func(b *Builder, x *Node) *Node {
			return b.Add("act", &Activation{ClassName: "Activation", Func: sigmoid}, b.Add("conv", randomConv(t, r, 3, 3, 4, "linear"), x))
		}, 3},
		{"conv with its own activation", func(b *Builder, x *Node) *Node {
			return b.Add("act", relu(), b.Add("conv", randomConv(t, r, 3, 3, 4, "tanh"), x))
		}, 3},
		{"conv read twice", func(b *Builder, x *Node) *Node {
			conv := b.Add("conv", randomConv(t, r, 3, 3, 3, "linear"), x)
			return b.Add("sum", &Merge{Op: Add}, b.Add("act", relu(), conv), conv)
		}, 4},
		{"two activations in a row", func(b *Builder, x *Node) *Node {
			conv := b.Add("conv", randomConv(t, r, 3, 3, 3, "linear"), x)
			return b.Add("act2", leaky, b.Add("act1", relu(), conv))
		}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := buildGraph(t, tt.build)
			m, err := Compile(g, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.steps) != tt.steps {
				t.Errorf("%d steps after fusion, want %d", len(m.steps), tt.steps)
			}
			checkRun(t, m, randomTensor(r, 2, 7, 6, 3))
		})
	}
}

func TestUpsampleFusion(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	validConv := func(k, in, out int) *Conv2D {
		c, err := NewConv2D(randomTensor(r, 0.5, k, k, in, out), randomSlice(r, out), ConvConfig{Padding: Valid})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	nearest := func(sh, sw int) *UpSampling2D { return &UpSampling2D{SizeH: sh, SizeW: sw} }
	tests := []struct {
		name  string
		build func(b *Builder, x *Node) *Node
		fused bool
		// exact: the fused convolution pads the rows the stored map would
		// give, so its sums are the same to the bit. With "same" padding
		// it sums the kernel by phase instead, which rounds differently.
		exact bool
	}{
		{"nearest 4x4 into 3x3", func(b *Builder, x *Node) *Node {
			up := b.Add("up", nearest(4, 4), b.Add("feat", randomConv(t, r, 3, 3, 6, "relu"), x))
			return b.Add("out", randomConv(t, r, 3, 6, 3, "linear"), up)
		}, true, false},
		{"nearest 3x2 into 5x5", func(b *Builder, x *Node) *Node {
			return b.Add("out", randomConv(t, r, 5, 3, 2, "linear"), b.Add("up", nearest(3, 2), x))
		}, true, false},
		{"nearest 2x3 into even 4x4", func(b *Builder, x *Node) *Node {
			return b.Add("out", randomConv(t, r, 4, 3, 5, "linear"), b.Add("up", nearest(2, 3), x))
		}, true, false},
		{"nearest 2x2 into valid 3x3", func(b *Builder, x *Node) *Node {
			return b.Add("out", validConv(3, 3, 4), b.Add("up", nearest(2, 2), x))
		}, true, true},
		{"fused convolution with a fused activation", func(b *Builder, x *Node) *Node {
			conv := b.Add("conv", randomConv(t, r, 3, 3, 4, "linear"), b.Add("up", nearest(2, 3), x))
			return b.Add("out", relu(), conv)
		}, true, false},
		{"bilinear not fused", func(b *Builder, x *Node) *Node {
			up := b.Add("up", &UpSampling2D{SizeH: 2, SizeW: 2, Interpolation: Bilinear}, x)
			return b.Add("out", randomConv(t, r, 3, 3, 3, "linear"), up)
		}, false, false},
		{"1x1 convolution not fused", func(b *Builder, x *Node) *Node {
			return b.Add("out", randomConv(t, r, 1, 3, 3, "linear"), b.Add("up", nearest(2, 2), x))
		}, false, false},
		{"upsampling read twice", func(b *Builder, x *Node) *Node {
			up := b.Add("up", nearest(2, 2), x)
			return b.Add("out", &Merge{Op: Add}, b.Add("conv", randomConv(t, r, 3, 3, 3, "linear"), up), up)
		}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := buildGraph(t, tt.build)
			for _, threads := range []int{1, 2} {
				m, err := Compile(g, Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				stored := false
				for _, s := range m.steps {
					if _, ok := s.layer.(*UpSampling2D); ok {
						stored = true
					}
				}
				if stored == tt.fused {
					t.Errorf("upsampling stored as a step = %v, want %v", stored, !tt.fused)
				}
				for _, size := range [][2]int{{7, 6}, {2, 2}, {3, 9}} {
					in := randomTensor(r, 2, size[0], size[1], 3)
					want := interpret(t, g, in)
					got := checkRun(t, m, in)
					if tt.exact && !slices.Equal(got.Data, want.Data[:len(got.Data)]) {
						t.Errorf("threads %d, %dx%d input: fused output differs from node-by-node output", threads, size[0], size[1])
					}
				}
			}
		})
	}
}

func TestRunKeepsBuffersAcrossGC(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	m, err := Compile(denseBlock(t, r, 8, 8, 4), Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := randomTensor(r, 1, 64, 64, 8)
	allocated := func() uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := m.Run(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	first := allocated()
	// Two collections empty a sync.Pool, victim cache included.
	runtime.GC()
	runtime.GC()
	if again := allocated(); again > first/4 {
		t.Errorf("Run after two collections allocated %d bytes, first Run %d: want its buffers kept", again, first)
	}
}

func TestRunConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	m, err := Compile(denseBlock(t, r, 4, 3, 3), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	const workers = 8
	inputs := make([]*tensor.Tensor, workers)
	want := make([]*tensor.Tensor, workers)
	for i := range inputs {
		// Different sizes make the calls need different buffers.
		inputs[i] = randomTensor(r, 1, 5+i, 9-i/2, 4)
		// Each call gets its own copy of the input, so this test checks
		// concurrency alone, not what a call does to its input.
		if want[i], err = m.Run(context.Background(), inputs[i].Clone()); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Go(func() {
			for range 5 {
				got, err := m.Run(context.Background(), inputs[i].Clone())
				if err != nil {
					errs <- err
					return
				}
				if !slices.Equal(got.Data, want[i].Data) {
					errs <- fmt.Errorf("worker %d: concurrent output differs from the sequential one", i)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRunLeavesInputUntouched(t *testing.T) {
	// in (3) → conv (8) → conv (3). A small second call needs an 8-channel
	// buffer no larger than the first call's input, and the model must not
	// hand that input out as scratch memory.
	r := rand.New(rand.NewPCG(29, 30))
	b := NewBuilder()
	x := b.Input("in", Shape{Dynamic, Dynamic, 3})
	mid := b.Add("mid", randomConv(t, r, 3, 3, 8, "linear"), x)
	g, err := b.Build(b.Add("out", randomConv(t, r, 3, 8, 3, "linear"), mid))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compile(g, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	big := randomTensor(r, 1, 8, 8, 3)
	saved := big.Clone()
	small := randomTensor(r, 1, 4, 4, 3)
	for i := range 5 {
		if _, err := m.Run(context.Background(), big); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Run(context.Background(), small); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(big.Data, saved.Data) {
			t.Fatalf("round %d: Run wrote into an earlier call's input tensor", i)
		}
	}
}

func TestRunMemoryBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	m, err := Compile(denseBlock(t, r, 8, 8, 4), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	const h, w, c = 64, 64, 8
	run := func() {
		if _, err := m.Run(context.Background(), randomTensor(r, 1, h, w, c)); err != nil {
			t.Fatal(err)
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	run()
	before := heap()
	const calls = 20
	for range calls {
		run()
	}
	after := heap()
	// Each input is 128 KiB; keeping one per call would add 2.5 MiB.
	const limit = 1 << 20
	if after > before+limit {
		t.Errorf("HeapInuse grew from %d to %d bytes over %d calls, more than %d", before, after, calls, limit)
	}
}

func TestRunInputOnlyGraph(t *testing.T) {
	// A graph whose output is its input, such as a Sequential model of only
	// an InputLayer, returns a copy of the input.
	b := NewBuilder()
	g, err := b.Build(b.Input("in", Shape{Dynamic, Dynamic, 2}))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := &tensor.Tensor{Shape: []int{1, 2, 2}, Data: []float32{1, 2, 3, 4}}
	out, err := m.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Data, in.Data) {
		t.Errorf("Run(%v) = %v, want a copy of the input", in.Data, out.Data)
	}
	if &out.Data[0] == &in.Data[0] {
		t.Error("Run returned the input's memory, which the caller still owns")
	}
}

func TestRunCanceled(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	m, err := Compile(denseBlock(t, r, 4, 3, 2), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err := m.Run(ctx, randomTensor(r, 1, 8, 8, 4))
	if out != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Run(canceled) = %v, %v; want nil, context.Canceled", out, err)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	b := NewBuilder()
	x := b.Input("in", Shape{Dynamic, Dynamic, 3})
	g, err := b.Build(b.Add("conv", &wrappedLayer{randomConv(t, r, 3, 3, 2, "linear")}, x))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   *tensor.Tensor
	}{
		{"wrong channels", tensor.New(4, 4, 2)},
		{"rank 2", tensor.New(4, 4)},
		{"batch of 2", tensor.New(2, 4, 4, 3)},
		{"zero height", tensor.New(0, 4, 3)},
	}
	for _, tt := range tests {
		if out, err := m.Run(context.Background(), tt.in); out != nil || err == nil {
			t.Errorf("Run(%s %v) = %v, %v; want an error", tt.name, tt.in.Shape, out, err)
		}
	}
	if out, err := m.Run(context.Background(), tensor.New(1, 4, 4, 3)); err != nil || fmt.Sprint(out.Shape) != "[4 4 2]" {
		t.Errorf("Run([1 4 4 3]) = %v, %v; want shape [4 4 2]", out, err)
	}

	// A fixed input size is enforced.
	b = NewBuilder()
	x = b.Input("in", Shape{5, 6, 3})
	g, err = b.Build(b.Add("act", relu(), x))
	if err != nil {
		t.Fatal(err)
	}
	m, err = Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Run(context.Background(), tensor.New(6, 5, 3)); err == nil {
		t.Error("Run(6×5) on a 5×6 model: no error")
	}
}

// wrappedLayer is a caller's own layer type: a convolution the compiler
// cannot recognise, so it is neither fused nor special-cased.
type wrappedLayer struct{ *Conv2D }

func TestShapesRejectsTooSmallInput(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	c, err := NewConv2D(randomTensor(r, 1, 5, 5, 3, 2), nil, ConvConfig{Padding: Valid})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder()
	g, err := b.Build(b.Add("valid", c, b.Input("in", Shape{Dynamic, Dynamic, 3})))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.OutputShape(4, 9)
	var le *LayerError
	if !errors.As(err, &le) || le.Layer != "valid" {
		t.Errorf("OutputShape(4, 9) = %v, want a *LayerError for layer valid", err)
	}
	if s, err := m.OutputShape(5, 9); err != nil || s != (Shape{1, 5, 2}) {
		t.Errorf("OutputShape(5, 9) = %v, %v; want [1, 5, 2]", s, err)
	}
}

func TestBuilderErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(39, 40))
	t.Run("duplicate name", func(t *testing.T) {
		b := NewBuilder()
		x := b.Input("in", Shape{Dynamic, Dynamic, 3})
		y := b.Add("a", relu(), x)
		z := b.Add("a", relu(), y)
		_, err := b.Build(z)
		var le *LayerError
		if !errors.As(err, &le) || le.Layer != "a" {
			t.Errorf("Build = %v, want a *LayerError for a", err)
		}
	})
	t.Run("shape mismatch", func(t *testing.T) {
		b := NewBuilder()
		x := b.Input("in", Shape{Dynamic, Dynamic, 3})
		z := b.Add("conv", randomConv(t, r, 3, 4, 2, "linear"), x)
		_, err := b.Build(b.Add("after", relu(), z))
		var le *LayerError
		if !errors.As(err, &le) || le.Layer != "conv" {
			t.Errorf("Build = %v, want a *LayerError for conv", err)
		}
	})
	t.Run("nil input", func(t *testing.T) {
		b := NewBuilder()
		b.Input("in", Shape{Dynamic, Dynamic, 3})
		if _, err := b.Build(b.Add("a", relu(), nil)); err == nil {
			t.Error("Build with a nil input: no error")
		}
	})
	t.Run("two inputs", func(t *testing.T) {
		b := NewBuilder()
		x := b.Input("in", Shape{Dynamic, Dynamic, 3})
		y := b.Input("in2", Shape{Dynamic, Dynamic, 3})
		if _, err := b.Build(b.Add("sum", &Merge{Op: Add}, x, y)); err == nil {
			t.Error("Build with two inputs: no error")
		}
	})
	t.Run("input without channels", func(t *testing.T) {
		b := NewBuilder()
		x := b.Input("in", Shape{Dynamic, Dynamic, 0})
		if _, err := b.Build(x); err == nil {
			t.Error("Build with a 0-channel input: no error")
		}
	})
}

func TestReceptiveRadiusAndScale(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	convTo := func(k, stride, out int) Layer {
		c, err := NewConv2D(randomTensor(r, 1, k, k, 2, out), nil, ConvConfig{Padding: Same, StrideH: stride, StrideW: stride})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	conv := func(k, stride int) Layer { return convTo(k, stride, 2) }
	up2 := &UpSampling2D{SizeH: 2, SizeW: 2}
	tests := []struct {
		name   string
		layers []Layer
		radius float64
		scale  float64
	}{
		{"two 3×3", []Layer{conv(3, 1), conv(3, 1)}, 2, 1},
		{"5×5", []Layer{conv(5, 1)}, 2, 1},
		{"1×1", []Layer{conv(1, 1)}, 0, 1},
		// A 3×3 after 2× upsampling reaches one output pixel, half an input
		// pixel.
		{"3×3 after upsampling", []Layer{conv(3, 1), up2, conv(3, 1)}, 1.5, 2},
		{"3×3 after stride 2", []Layer{conv(3, 2), conv(3, 1)}, 3, 0.5},
		{"bilinear", []Layer{&UpSampling2D{SizeH: 2, SizeW: 2, Interpolation: Bilinear}}, 1, 2},
		{"depth to space", []Layer{convTo(3, 1, 8), &DepthToSpace{ClassName: "PixelShuffle2x", Block: 2}}, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder()
			n := b.Input("in", Shape{Dynamic, Dynamic, 2})
			for i, l := range tt.layers {
				n = b.Add(fmt.Sprint(i), l, n)
			}
			g, err := b.Build(n)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.ReceptiveRadius(); got != tt.radius {
				t.Errorf("ReceptiveRadius() = %v, want %v", got, tt.radius)
			}
			if got := g.Scale(); got != tt.scale {
				t.Errorf("Scale() = %v, want %v", got, tt.scale)
			}
		})
	}

	t.Run("longest branch", func(t *testing.T) {
		b := NewBuilder()
		x := b.Input("in", Shape{Dynamic, Dynamic, 2})
		long := b.Add("a", conv(3, 1), b.Add("b", conv(5, 1), x))
		short := b.Add("c", conv(3, 1), x)
		g, err := b.Build(b.Add("sum", &Merge{Op: Add}, short, long))
		if err != nil {
			t.Fatal(err)
		}
		if got := g.ReceptiveRadius(); got != 3 {
			t.Errorf("ReceptiveRadius() = %v, want 3", got)
		}
	})
}

func TestRunIntoReusesDestination(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	g := denseBlock(t, r, 6, 4, 3)
	m, err := Compile(g, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	big := randomTensor(r, 1, 9, 7, 6)
	small := randomTensor(r, 1, 5, 4, 6)
	want, err := m.Run(context.Background(), small)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := m.Run(context.Background(), big)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.RunInto(context.Background(), small, dst)
	if err != nil {
		t.Fatal(err)
	}
	if &got.Data[0] != &dst.Data[0] {
		t.Errorf("RunInto allocated although the destination had room")
	}
	if !slices.Equal(got.Shape, want.Shape) || !slices.Equal(got.Data, want.Data) {
		t.Errorf("RunInto(small, used dst) = shape %v, differs from Run(small) with shape %v", got.Shape, want.Shape)
	}
	fresh, err := m.RunInto(context.Background(), big, got)
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh.Data) != 9*7*fresh.Shape[2] {
		t.Errorf("RunInto(big, small dst) returned %d values, want %d", len(fresh.Data), 9*7*fresh.Shape[2])
	}
}
