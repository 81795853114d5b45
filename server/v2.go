package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/autopatch"
	"github.com/upscaler-go/upscaler/models"
	"github.com/upscaler-go/upscaler/tensor"
)

// This file implements the Open Inference Protocol (KServe v2) REST API,
// with its binary tensor data extension. Each model has one input tensor
// "input" and one output tensor "output", both [height, width, 3] in
// row-major order with values 0..255.

const inferenceHeaderLength = "Inference-Header-Content-Length"

type v2Tensor struct {
	Name       string          `json:"name"`
	Shape      []int           `json:"shape"`
	DataType   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

type v2Request struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []v2Tensor     `json:"inputs"`
	Outputs    []struct {
		Name       string         `json:"name"`
		Parameters map[string]any `json:"parameters,omitempty"`
	} `json:"outputs,omitempty"`
}

type v2Output struct {
	Name       string         `json:"name"`
	Shape      []int          `json:"shape"`
	DataType   string         `json:"datatype"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       []float32      `json:"data,omitempty"`
}

type v2Response struct {
	ModelName    string     `json:"model_name"`
	ModelVersion string     `json:"model_version,omitempty"`
	ID           string     `json:"id,omitempty"`
	Outputs      []v2Output `json:"outputs"`
}

type v2TensorMetadata struct {
	Name     string `json:"name"`
	DataType string `json:"datatype"`
	Shape    []int  `json:"shape"`
}

type v2ModelMetadata struct {
	Name     string             `json:"name"`
	Versions []string           `json:"versions"`
	Platform string             `json:"platform"`
	Inputs   []v2TensorMetadata `json:"inputs"`
	Outputs  []v2TensorMetadata `json:"outputs"`
	// Scale and Package are extensions: the enlargement factor and the npm
	// package the weights come from.
	Scale   int    `json:"scale"`
	Package string `json:"package,omitempty"`
}

func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"live": true})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if !s.Ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]bool{"ready": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
}

func (s *Server) handleServerMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"name": "upscaler", "version": "1", "extensions": []string{"binary_tensor_data"},
	})
}

// handleModelList lists the model names; it is not part of the protocol.
func (s *Server) handleModelList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]string{"models": inferenceNames()})
}

func (s *Server) modelFor(w http.ResponseWriter, r *http.Request) (modelRef, models.Definition, bool) {
	name := r.PathValue("name")
	infoFrom(r.Context()).model = name
	ref, err := resolveModel(name, 0)
	var def models.Definition
	if err == nil {
		def, err = models.Lookup(ref.family, ref.scale)
	}
	if err != nil {
		s.writeError(w, r, err)
		return modelRef{}, def, false
	}
	return ref, def, true
}

func (s *Server) handleModelMetadata(w http.ResponseWriter, r *http.Request) {
	ref, def, ok := s.modelFor(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, v2ModelMetadata{
		Name:     ref.inferenceName(),
		Versions: []string{def.Version},
		Platform: "upscaler-go",
		Inputs:   []v2TensorMetadata{{Name: "input", DataType: "FP32", Shape: []int{-1, -1, 3}}},
		Outputs:  []v2TensorMetadata{{Name: "output", DataType: "FP32", Shape: []int{-1, -1, 3}}},
		Scale:    ref.scale,
		Package:  def.Package,
	})
}

// handleModelReady reports 200 when the model is loaded in memory and 503
// otherwise; a model loads on its first inference request.
func (s *Server) handleModelReady(w http.ResponseWriter, r *http.Request) {
	ref, _, ok := s.modelFor(w, r)
	if !ok {
		return
	}
	// Worker processes load a model on its first request, so with them
	// every catalog model counts as ready.
	ready := s.procs != nil || s.models.loaded(ref.inferenceName())
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"name": ref.inferenceName(), "ready": ready})
}

func (s *Server) handleInfer(w http.ResponseWriter, r *http.Request) {
	if s.rejectWhenFull(w, r) {
		return
	}
	ctx, cancel := contextWithTimeout(r, s.cfg.RequestTimeout)
	defer cancel()
	ref, def, ok := s.modelFor(w, r)
	if !ok {
		return
	}

	// Read the JSON header and, with the binary extension, the raw data
	// after it.
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("read request body: %w", err))
		return
	}
	header, binaryData := body, []byte(nil)
	if hl := r.Header.Get(inferenceHeaderLength); hl != "" {
		n, err := strconv.Atoi(hl)
		if err != nil || n < 0 || n > len(body) {
			s.writeError(w, r, fmt.Errorf("%w: %s %q is not a length within the %d-byte body", errBadRequest, inferenceHeaderLength, hl, len(body)))
			return
		}
		header, binaryData = body[:n], body[n:]
	}
	var req v2Request
	if err := json.Unmarshal(header, &req); err != nil {
		s.writeError(w, r, fmt.Errorf("%w: inference request JSON: %w", errBadRequest, err))
		return
	}
	if len(req.Inputs) != 1 {
		s.writeError(w, r, fmt.Errorf("%w: %d input tensors, want exactly one named \"input\"", errBadRequest, len(req.Inputs)))
		return
	}
	t, err := decodeV2Tensor(&req.Inputs[0], binaryData, s.cfg.MaxPixels)
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	// Run the model.
	ureq := &upscaleRequest{model: ref, input: t, height: t.Shape[0], width: t.Shape[1]}
	ureq.opts.MaxPixels = s.cfg.MaxPixels
	if err := applyV2Parameters(&ureq.opts, req.Parameters); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, patchGiven := req.Parameters["patch_size"]; !patchGiven {
		_, paddingGiven := req.Parameters["padding"]
		autopatch.Apply(&ureq.opts, ureq.width, ureq.height, paddingGiven)
	}
	info := infoFrom(r.Context())
	info.inputWidth, info.inputHeight = ureq.width, ureq.height
	res, err := s.upscale(ctx, ureq, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	info.outHeight, info.outWidth = res.Tensor.Shape[0], res.Tensor.Shape[1]

	// Respond in JSON or, when requested, in the binary form.
	out := v2Output{Name: "output", Shape: res.Tensor.Shape, DataType: "FP32"}
	resp := v2Response{ModelName: ref.inferenceName(), ModelVersion: def.Version, ID: req.ID}
	if !wantsBinaryOutput(r, &req) {
		out.Data = res.Tensor.Data
		resp.Outputs = []v2Output{out}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	raw := make([]byte, 4*len(res.Tensor.Data))
	for i, v := range res.Tensor.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	out.Parameters = map[string]any{"binary_data_size": len(raw)}
	resp.Outputs = []v2Output{out}
	hb, err := json.Marshal(resp)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(inferenceHeaderLength, strconv.Itoa(len(hb)))
	w.Header().Set("Content-Length", strconv.Itoa(len(hb)+len(raw)))
	w.Write(hb)
	w.Write(raw)
}

// decodeV2Tensor checks the input tensor's declaration and reads its data,
// from binaryData when parameters.binary_data_size is set and from the JSON
// data field otherwise.
func decodeV2Tensor(in *v2Tensor, binaryData []byte, maxPixels int64) (*tensor.Tensor, error) {
	shape := in.Shape
	if len(shape) == 4 && shape[0] == 1 {
		shape = shape[1:]
	}
	if len(shape) != 3 || shape[2] != 3 || shape[0] <= 0 || shape[1] <= 0 {
		return nil, fmt.Errorf("%w: input shape %v is not an RGB image: use [height, width, 3]", errBadRequest, in.Shape)
	}
	if int64(shape[0])*int64(shape[1]) > maxPixels {
		return nil, fmt.Errorf("%w: input of %dx%d pixels exceeds the limit of %d pixels", errTooLargeTensor, shape[1], shape[0], maxPixels)
	}
	n := shape[0] * shape[1] * 3
	var elemSize int
	switch in.DataType {
	case "FP32":
		elemSize = 4
	case "UINT8":
		elemSize = 1
	default:
		return nil, fmt.Errorf("%w: input datatype %q is not supported: use FP32 or UINT8", errBadRequest, in.DataType)
	}
	t := tensor.New(shape[0], shape[1], 3)

	if size, ok := in.Parameters["binary_data_size"]; ok {
		sz, isNum := size.(float64)
		if !isNum || sz != float64(n*elemSize) {
			return nil, fmt.Errorf("%w: binary_data_size %v does not match shape %v of %s (%d bytes)", errBadRequest, size, in.Shape, in.DataType, n*elemSize)
		}
		if len(binaryData) != n*elemSize {
			return nil, fmt.Errorf("%w: %d bytes of binary data follow the header, want %d", errBadRequest, len(binaryData), n*elemSize)
		}
		for i := range t.Data {
			if elemSize == 1 {
				t.Data[i] = float32(binaryData[i])
			} else {
				t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(binaryData[4*i:]))
			}
		}
	} else {
		values, err := flattenJSONNumbers(in.Data, n)
		if err != nil {
			return nil, err
		}
		if len(values) != n {
			return nil, fmt.Errorf("%w: input has %d values, want %d for shape %v", errBadRequest, len(values), n, in.Shape)
		}
		copy(t.Data, values)
	}
	if err := checkImageTensor(t, maxPixels); err != nil {
		return nil, err
	}
	return t, nil
}

// errTooLargeTensor marks a tensor over Config.MaxPixels.
var errTooLargeTensor = errors.New("input too large")

// flattenJSONNumbers reads a flat or nested JSON array of numbers, stopping
// with an error once it holds more than max values.
func flattenJSONNumbers(raw json.RawMessage, max int) ([]float32, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: input has no data and no binary_data_size parameter", errBadRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	values := make([]float32, 0, max)
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: input data: %w", errBadRequest, err)
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '[' {
				depth++
			} else if v == ']' {
				depth--
			} else {
				return nil, fmt.Errorf("%w: input data contains an object: use an array of numbers", errBadRequest)
			}
		case float64:
			if depth == 0 {
				return nil, fmt.Errorf("%w: input data is a number, not an array", errBadRequest)
			}
			if len(values) == max {
				return nil, fmt.Errorf("%w: input has more than the %d values its shape declares", errBadRequest, max)
			}
			values = append(values, float32(v))
		default:
			return nil, fmt.Errorf("%w: input data contains %v: use an array of numbers", errBadRequest, tok)
		}
	}
	return values, nil
}

// applyV2Parameters reads the request parameters "patch_size" (a number)
// and "padding" (a number or "auto").
func applyV2Parameters(opts *upscaler.Options, params map[string]any) error {
	if v, ok := params["patch_size"]; ok {
		f, isNum := v.(float64)
		if !isNum || f < 0 || f != math.Trunc(f) {
			return fmt.Errorf("%w: parameter patch_size=%v is not a non-negative integer", errBadRequest, v)
		}
		opts.PatchSize = int(f)
	}
	if v, ok := params["padding"]; ok {
		switch p := v.(type) {
		case string:
			if p != "auto" {
				return fmt.Errorf("%w: parameter padding=%q is not a number or \"auto\"", errBadRequest, p)
			}
			opts.AutoPadding = true
		case float64:
			if p < 0 || p != math.Trunc(p) {
				return fmt.Errorf("%w: parameter padding=%v is not a non-negative integer", errBadRequest, p)
			}
			opts.Padding = int(p)
		default:
			return fmt.Errorf("%w: parameter padding=%v is not a number or \"auto\"", errBadRequest, v)
		}
	}
	return nil
}

// wantsBinaryOutput reports whether the reply should use the binary
// extension: the request parameter binary_data_output, an output's
// binary_data parameter, or an Accept of application/octet-stream.
func wantsBinaryOutput(r *http.Request, req *v2Request) bool {
	if b, ok := req.Parameters["binary_data_output"].(bool); ok && b {
		return true
	}
	for _, o := range req.Outputs {
		if b, ok := o.Parameters["binary_data"].(bool); ok && b {
			return true
		}
	}
	return r.Header.Get("Accept") == "application/octet-stream"
}
