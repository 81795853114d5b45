package nn

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/upscaler-go/upscaler/tensor"
)

// Model is a compiled graph ready to run. It is safe for concurrent use:
// weights are shared and read-only, and each call takes its own buffers
// from a pool. The model keeps the buffers of one finished call for the
// next call; those of other concurrent calls may be reclaimed by the
// garbage collector.
type Model struct {
	graph   *Graph
	steps   []step
	output  int
	threads int
	// idleState holds one idle state across garbage collections, so that a
	// model called again and again reuses its buffers instead of
	// allocating them anew after each collection empties states.
	idleState atomic.Pointer[state]
	states    sync.Pool // of *state
}

// step is one node after fusion, with its place in memory.
type step struct {
	name   string
	layer  Layer // nil for the input
	inputs []int
	shape  Shape
	dead   bool // folded into a later step by fuse
	// parent is the Concatenate step whose buffer holds this step's output,
	// at channel offset, or -1 when the step owns its buffer.
	parent, offset int
	// readers counts the steps that read this output.
	readers int
	// refs, for a buffer owner, counts the reads of every output stored in
	// its buffer; the buffer is released when they have all happened.
	refs int
}

// Options tunes a compiled model. The zero value is ready to use.
type Options struct {
	// Threads is the number of goroutines each call uses; 0 means
	// DefaultThreads.
	Threads int
}

// Compile prepares g for running: it fuses activations and nearest-neighbour
// upsampling into convolutions and plans which outputs are written in place
// into concatenations.
func Compile(g *Graph, opts Options) (*Model, error) {
	m := &Model{graph: g, threads: opts.Threads}
	if m.threads <= 0 {
		m.threads = DefaultThreads()
	}
	// The input goes first; it depends on nothing, so the order stays valid.
	order := append([]*Node{g.input}, slices.DeleteFunc(slices.Clone(g.nodes), func(n *Node) bool { return n == g.input })...)
	index := map[*Node]int{}
	for _, n := range order {
		s := step{name: n.name, layer: n.layer, shape: n.shape, parent: -1}
		for _, in := range n.inputs {
			s.inputs = append(s.inputs, index[in])
		}
		index[n] = len(m.steps)
		m.steps = append(m.steps, s)
	}
	m.output = index[g.output]
	m.countReaders()
	m.fuse()
	m.place()
	return m, nil
}

// Graph returns the graph the model was compiled from.
func (m *Model) Graph() *Graph { return m.graph }

// Threads returns the number of goroutines each call uses.
func (m *Model) Threads() int { return m.threads }

func (m *Model) countReaders() {
	for i := range m.steps {
		m.steps[i].readers = 0
	}
	for _, s := range m.steps {
		for _, in := range s.inputs {
			m.steps[in].readers++
		}
	}
}

// fuse folds a nearest-neighbour UpSampling2D into the convolution that
// reads it, and an activation into the convolution that feeds it, when the
// convolution is the upsampling's only reader or the activation the
// convolution's. The enlarged map is then never stored, and the activation
// runs while the convolution stores its output.
func (m *Model) fuse() {
	for i := range m.steps {
		s := &m.steps[i]
		conv, ok := s.layer.(*Conv2D)
		if !ok || len(s.inputs) != 1 {
			continue
		}
		src := &m.steps[s.inputs[0]]
		up, ok := src.layer.(*UpSampling2D)
		if !ok || src.readers != 1 || s.inputs[0] == m.output {
			continue
		}
		fused, ok := conv.withUpsample(up)
		if !ok {
			continue
		}
		s.layer = fused
		s.inputs = slices.Clone(src.inputs)
		src.dead = true
	}
	for i := range m.steps {
		s := &m.steps[i]
		act, ok := s.layer.(fusableActivation)
		if !ok || len(s.inputs) != 1 {
			continue
		}
		src := &m.steps[s.inputs[0]]
		conv, ok := src.layer.(*Conv2D)
		if !ok || src.readers != 1 || s.inputs[0] == m.output {
			continue
		}
		fused, ok := conv.withActivation(act)
		if !ok {
			continue
		}
		s.layer = fused
		s.inputs = slices.Clone(src.inputs)
		src.dead = true
	}
	// Drop dead steps and renumber.
	renumber := make([]int, len(m.steps))
	var kept []step
	for i, s := range m.steps {
		if s.dead {
			renumber[i] = -1
			continue
		}
		renumber[i] = len(kept)
		kept = append(kept, s)
	}
	for i := range kept {
		for j, in := range kept[i].inputs {
			kept[i].inputs[j] = renumber[in]
		}
	}
	m.output = renumber[m.output]
	m.steps = kept
	m.countReaders()
}

// place lets the inputs of each Concatenate write into its buffer. Outer
// concatenations are planned first, so a chain of concatenations, as in a
// dense block, ends up sharing one buffer.
func (m *Model) place() {
	for i := len(m.steps) - 1; i >= 0; i-- {
		s := &m.steps[i]
		if _, ok := s.layer.(*Concatenate); !ok {
			continue
		}
		offset := 0
		for _, in := range s.inputs {
			src := &m.steps[in]
			if src.layer != nil && src.parent < 0 && in != m.output &&
				countOf(s.inputs, in) == 1 {
				src.parent, src.offset = i, offset
			}
			offset += src.shape.C
		}
	}
	for i := range m.steps {
		r, _ := m.root(i)
		m.steps[r].refs += m.steps[i].readers
	}
}

func countOf(s []int, v int) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// root returns the step that owns the buffer holding step i's output and the
// channel offset of that output inside it.
func (m *Model) root(i int) (owner, offset int) {
	for m.steps[i].parent >= 0 {
		offset += m.steps[i].offset
		i = m.steps[i].parent
	}
	return i, offset
}

// state is the memory of one call: feature-map buffers and layer scratch.
type state struct {
	env  Env
	free [][]float32
	bufs [][]float32
	refs []int
}

func (st *state) get(n int) []float32 {
	best := -1
	for i, b := range st.free {
		if cap(b) >= n && (best < 0 || cap(b) < cap(st.free[best])) {
			best = i
		}
	}
	if best < 0 {
		return make([]float32, n)
	}
	b := st.free[best]
	st.free = slices.Delete(st.free, best, best+1)
	return b[:n]
}

func (st *state) put(b []float32) { st.free = append(st.free, b) }

// Run runs the model on in, a tensor of shape [h, w, c] or [1, h, w, c],
// and returns a new tensor of shape [h', w', c'] that the caller owns. The
// model checks ctx before each layer and often within long ones; when ctx
// is done Run returns ctx's error.
func (m *Model) Run(ctx context.Context, in *tensor.Tensor) (*tensor.Tensor, error) {
	return m.RunInto(ctx, in, nil)
}

// RunInto is Run writing into dst when dst has room for the output: its
// data is reused and its shape set to [h', w', c']. With a nil or too small
// dst it allocates a new tensor, as Run does. Callers that run many inputs
// of one size, such as patches, reuse one output this way.
func (m *Model) RunInto(ctx context.Context, in, dst *tensor.Tensor) (*tensor.Tensor, error) {
	h, w, c, err := in.HWC()
	if err != nil {
		return nil, fmt.Errorf("nn: input: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inShape := m.steps[0].shape
	if c != inShape.C || (inShape.H != Dynamic && h != inShape.H) || (inShape.W != Dynamic && w != inShape.W) {
		return nil, fmt.Errorf("nn: input has shape [%d, %d, %d] but the model takes %v", h, w, c, inShape)
	}
	if h <= 0 || w <= 0 {
		return nil, fmt.Errorf("nn: input has shape [%d, %d, %d]; height and width must be positive", h, w, c)
	}
	shapes, err := m.Shapes(h, w)
	if err != nil {
		return nil, err
	}
	if m.output == 0 {
		// The graph is only its input, so the output is a copy of it.
		out := tensor.New(h, w, c)
		copy(out.Data, in.Data)
		return out, nil
	}

	st := m.idleState.Swap(nil)
	if st == nil {
		st, _ = m.states.Get().(*state)
	}
	if st == nil {
		st = &state{}
	}
	st.env.threads = m.threads
	st.bufs = make([][]float32, len(m.steps))
	st.refs = make([]int, len(m.steps))
	defer func() {
		for i, b := range st.bufs {
			if b != nil && i != 0 && i != m.output {
				st.put(b)
			}
		}
		st.bufs, st.refs = nil, nil
		if !m.idleState.CompareAndSwap(nil, st) {
			m.states.Put(st)
		}
	}()
	for i, s := range m.steps {
		st.refs[i] = s.refs
	}

	outShape := shapes[m.output]
	var out *tensor.Tensor
	if dst != nil && cap(dst.Data) >= outShape.Size() {
		// Every layer writes all of its output, so stale values never show.
		out = &tensor.Tensor{Shape: []int{outShape.H, outShape.W, outShape.C}, Data: dst.Data[:outShape.Size()]}
	} else {
		out = tensor.New(outShape.H, outShape.W, outShape.C)
	}
	st.bufs[0] = in.Data
	st.bufs[m.output] = out.Data
	views := make([]View, len(m.steps))
	views[0] = View{Data: in.Data, H: h, W: w, C: c, Stride: c}
	ins := make([]View, 0, 4)
	for i := 1; i < len(m.steps); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := &m.steps[i]
		r, off := m.root(i)
		if st.bufs[r] == nil {
			st.bufs[r] = st.get(shapes[r].Size())
		}
		views[i] = View{Data: st.bufs[r][off:], H: shapes[i].H, W: shapes[i].W, C: shapes[i].C, Stride: shapes[r].C}
		ins = ins[:0]
		for _, in := range s.inputs {
			ins = append(ins, views[in])
		}
		if err := s.layer.Forward(ctx, &st.env, ins, views[i]); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &LayerError{Layer: s.name, Class: s.layer.Class(), Err: err}
		}
		for _, in := range s.inputs {
			m.release(st, in)
		}
		if s.readers == 0 && i != m.output {
			m.release(st, i)
		}
	}
	return out, nil
}

// release records one read of step i's output and frees the buffer that
// holds it after its last read.
func (m *Model) release(st *state, i int) {
	r, _ := m.root(i)
	st.refs[r]--
	if st.refs[r] <= 0 && r != 0 && r != m.output && st.bufs[r] != nil {
		st.put(st.bufs[r])
		st.bufs[r] = nil
	}
}

// Shapes returns the output shape of every step for an input of h×w pixels.
func (m *Model) Shapes(h, w int) ([]Shape, error) {
	shapes := make([]Shape, len(m.steps))
	shapes[0] = Shape{h, w, m.steps[0].shape.C}
	in := make([]Shape, 0, 4)
	for i := 1; i < len(m.steps); i++ {
		s := &m.steps[i]
		in = in[:0]
		for _, j := range s.inputs {
			in = append(in, shapes[j])
		}
		out, err := s.layer.OutputShape(in)
		if err != nil {
			return nil, &LayerError{Layer: s.name, Class: s.layer.Class(), Err: fmt.Errorf("input of %d×%d pixels: %w", w, h, err)}
		}
		if out.H <= 0 || out.W <= 0 {
			return nil, &LayerError{Layer: s.name, Class: s.layer.Class(), Err: fmt.Errorf("input of %d×%d pixels gives an empty output %v", w, h, out)}
		}
		shapes[i] = out
	}
	return shapes, nil
}

// OutputShape returns the output shape for an input of h×w pixels.
func (m *Model) OutputShape(h, w int) (Shape, error) {
	shapes, err := m.Shapes(h, w)
	if err != nil {
		return Shape{}, err
	}
	return shapes[m.output], nil
}
