// Package tfjs loads TensorFlow.js layers models, the format of the
// UpscalerJS model packages, into nn graphs.
//
// A layers model is a model.json file and one or more binary weight shards.
// model.json holds the Keras topology ("modelTopology": a Sequential,
// Model or Functional network as written by Keras 2.x or tfjs-layers) and a
// weights manifest: groups of shard files whose concatenated bytes hold the
// weights in manifest order. Weights are float32 or int32, or quantized by
// the converter to uint8 or uint16 (value = q·scale + min) or to float16;
// quantized weights are expanded to float32 when the model loads.
//
// Models load from a path to model.json, a directory, any fs.FS (so a model
// can be embedded with go:embed), or an npm package, as its .tgz tarball or
// unpacked folder, with the model's path inside it. Loading is all or
// nothing: any inconsistency between topology, manifest and shards is an
// error that names the file and the layer or weight.
//
// Layer classes are converted to nn layers by functions registered by class
// name. The Keras built-ins and the two custom layers of the UpscalerJS RRDN
// models (MultiplyBeta and PixelShuffleNx) are registered by this package;
// RegisterLayer adds more, like registering a custom layer class in
// TensorFlow.js.
package tfjs
