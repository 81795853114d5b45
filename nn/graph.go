package nn

import (
	"errors"
	"fmt"
	"math"
)

// Node is one layer application in a graph. Nodes are created by a Builder.
type Node struct {
	name   string
	layer  Layer // nil for the graph input
	inputs []*Node
	shape  Shape // shape with Dynamic sizes, set when the node is added
}

// Name returns the node's name.
func (n *Node) Name() string { return n.name }

// Layer returns the node's layer, or nil for an input node.
func (n *Node) Layer() Layer { return n.layer }

// Shape returns the node's output shape; heights and widths may be Dynamic.
func (n *Node) Shape() Shape { return n.shape }

// Inputs returns the nodes the node reads.
func (n *Node) Inputs() []*Node { return n.inputs }

func (n *Node) class() string {
	if n.layer == nil {
		return "InputLayer"
	}
	return n.layer.Class()
}

// Builder assembles a graph. Its methods record the first error and turn
// later calls into no-ops, so a loader can add every layer and check once,
// in Build.
type Builder struct {
	nodes []*Node
	names map[string]bool
	err   error
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return &Builder{names: map[string]bool{}} }

// Input adds the graph's input, with channel count s.C; s.H and s.W may be
// Dynamic.
func (b *Builder) Input(name string, s Shape) *Node {
	n := &Node{name: name, shape: s}
	if b.err == nil && s.C <= 0 {
		b.err = &LayerError{Layer: name, Class: "InputLayer", Err: fmt.Errorf("input must have a known channel count, got shape %v", s)}
	}
	b.add(n)
	return n
}

// Add adds a node that applies l to the given inputs and returns it. Shapes
// are checked here: an input that does not fit the layer makes Build fail.
func (b *Builder) Add(name string, l Layer, inputs ...*Node) *Node {
	n := &Node{name: name, layer: l, inputs: inputs}
	b.add(n)
	if b.err != nil {
		return n
	}
	shapes := make([]Shape, len(inputs))
	for i, in := range inputs {
		if in == nil {
			b.err = &LayerError{Layer: name, Class: l.Class(), Err: fmt.Errorf("input %d is missing", i)}
			return n
		}
		shapes[i] = in.shape
	}
	s, err := l.OutputShape(shapes)
	if err != nil {
		b.err = &LayerError{Layer: name, Class: l.Class(), Err: err}
		return n
	}
	n.shape = s
	return n
}

func (b *Builder) add(n *Node) {
	if b.err == nil && b.names[n.name] {
		b.err = &LayerError{Layer: n.name, Class: n.class(), Err: errors.New("duplicate node name")}
	}
	b.names[n.name] = true
	b.nodes = append(b.nodes, n)
}

// Err returns the first error recorded by the Builder.
func (b *Builder) Err() error { return b.err }

// Build returns the graph that computes output, with its nodes in an order
// where every node comes after its inputs. It fails on the first recorded
// error, a cycle, or a graph without exactly one input node.
func (b *Builder) Build(output *Node) (*Graph, error) {
	if b.err != nil {
		return nil, b.err
	}
	g := &Graph{output: output}
	const (
		unseen = iota
		active
		done
	)
	state := map[*Node]int{}
	var visit func(n *Node) error
	visit = func(n *Node) error {
		switch state[n] {
		case active:
			return &LayerError{Layer: n.name, Class: n.class(), Err: errors.New("graph has a cycle through this layer")}
		case done:
			return nil
		}
		state[n] = active
		for _, in := range n.inputs {
			if err := visit(in); err != nil {
				return err
			}
		}
		state[n] = done
		if n.layer == nil {
			if g.input != nil {
				return &LayerError{Layer: n.name, Class: n.class(), Err: fmt.Errorf("graph has a second input besides %q; only single-input models are supported", g.input.name)}
			}
			g.input = n
		}
		g.nodes = append(g.nodes, n)
		return nil
	}
	if err := visit(output); err != nil {
		return nil, err
	}
	if g.input == nil {
		return nil, errors.New("graph has no input layer")
	}
	return g, nil
}

// Graph is a built, immutable layer graph with one input and one output.
type Graph struct {
	input, output *Node
	nodes         []*Node // inputs before consumers
}

// Input returns the input node.
func (g *Graph) Input() *Node { return g.input }

// Output returns the output node.
func (g *Graph) Output() *Node { return g.output }

// Nodes returns the nodes in execution order.
func (g *Graph) Nodes() []*Node { return append([]*Node(nil), g.nodes...) }

// ReceptiveRadius returns how many input pixels, on each side, one output
// pixel depends on: the largest sum of layer radii along any path from the
// input to the output, each radius converted to input pixels at the
// resolution where its layer runs. Tiles padded by at least this many pixels
// of real image context give the same output as one untiled pass.
func (g *Graph) ReceptiveRadius() float64 {
	radius := map[*Node]float64{}
	scale := map[*Node]float64{g.input: 1}
	for _, n := range g.nodes {
		if n.layer == nil {
			continue
		}
		var r, s float64
		s = math.Inf(1)
		for _, in := range n.inputs {
			r = max(r, radius[in])
			s = min(s, scale[in])
		}
		fp := Footprint{Scale: 1}
		if f, ok := n.layer.(Footprinter); ok {
			fp = f.Footprint()
		}
		radius[n] = r + fp.Radius/s
		scale[n] = s * fp.Scale
	}
	return radius[g.output]
}

// Scale returns the output size divided by the input size, taken from the
// layers' footprints.
func (g *Graph) Scale() float64 {
	s := 1.0
	// Every path gives the same scale in a valid graph, so follow first inputs.
	for n := g.output; n.layer != nil; n = n.inputs[0] {
		if f, ok := n.layer.(Footprinter); ok {
			s *= f.Footprint().Scale
		}
	}
	return s
}
