package org.bertedge.core;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A bundle loaded for inference on ONNX Runtime's Java API (the same API as onnxruntime-android): the manifest
 * (sha256 checked), the WordPiece tokenizer and one session. Mirrors runtime_py/bundle.py.
 *
 * <p>Pooling and normalisation are inside the exported graph: an embedder's output is already the pooled,
 * L2-normalised sentence vector and a classifier's is its logits (a pair model's: of a text pair, or one score),
 * so the app only adds softmax, search and reranking.
 * One text per model call, as in runtime_py: ORT's dynamic int8 quantizes activations per call, so in a batch a
 * text's output would shift with its neighbours; alone it is the output the export report measured.
 */
public final class EdgeModel implements AutoCloseable {
    public final BundleManifest manifest;
    public final WordPieceTokenizer tokenizer;
    private final OrtEnvironment env;
    private final OrtSession session;
    // a bundle with load-time weights (manifest.weightsFile): the weights model's outputs, computed once at load
    // and passed to every call under their names; null otherwise
    private final OrtSession.Result weights;

    private EdgeModel(BundleManifest manifest, WordPieceTokenizer tokenizer, OrtEnvironment env, OrtSession session,
                      OrtSession.Result weights) {
        this.manifest = manifest;
        this.tokenizer = tokenizer;
        this.env = env;
        this.session = session;
        this.weights = weights;
    }

    /** Load a bundle folder. threads: ORT intra-op threads, 0 for ORT's default (one per core). */
    public static EdgeModel load(Path folder, int threads) throws BundleManifest.BundleException {
        BundleManifest manifest = BundleManifest.load(folder);
        WordPieceTokenizer tokenizer;
        try {
            tokenizer = new WordPieceTokenizer(BundleManifest.readText(folder.resolve(manifest.tokenizerFile)));
        } catch (RuntimeException e) {  // a field missing or of the wrong kind, however it shows
            throw new BundleManifest.BundleException("cannot load the tokenizer " + manifest.tokenizerFile + ": "
                + e);
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Path model = folder.resolve(manifest.modelFile);
        OrtSession.Result weights = null;
        if (manifest.weightsFile != null) {
            Path weightsFile = folder.resolve(manifest.weightsFile);
            try {
                weights = loadWeights(env, weightsFile);
            } catch (OrtException e) {  // named as what failed (runtime_py's ModelLoadError)
                throw new BundleManifest.BundleException("onnxruntime cannot load " + weightsFile + ": "
                    + e.getMessage());
            }
        }
        OrtSession session = null;
        boolean loaded = false;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            if (threads > 0) {
                options.setIntraOpNumThreads(threads);
            }
            session = env.createSession(model.toString(), options);
            String problem = inputProblem(manifest, session.getInputNames(), weights);
            if (problem == null) {
                problem = outputProblem(manifest, session.getOutputInfo());
            }
            if (problem != null) {
                throw new BundleManifest.BundleException(problem);
            }
            EdgeModel edge = new EdgeModel(manifest, tokenizer, env, session, weights);
            loaded = true;
            return edge;
        } catch (OrtException e) {
            throw new BundleManifest.BundleException("onnxruntime cannot load " + model + ": " + e.getMessage());
        } finally {
            if (!loaded) {  // whatever failed after they were made: native memory a failed load would otherwise keep
                closeQuietly(session);
                if (weights != null) {
                    weights.close();
                }
            }
        }
    }

    private static void closeQuietly(OrtSession session) {
        if (session == null) {
            return;
        }
        try {
            session.close();
        } catch (OrtException ignored) {
            // the load's own failure is the one to report
        }
    }

    /**
     * runtime_py's check_inputs: bundle.json lists the inputs the model takes, the load-time weights aside (every
     * listed one is fed at each call, and one left out would fail there). Null when it does.
     */
    static String inputProblem(BundleManifest manifest, Set<String> modelInputs, OrtSession.Result weights) {
        List<String> taken = new ArrayList<>(modelInputs);
        if (weights != null) {
            for (Map.Entry<String, OnnxValue> output : weights) {
                taken.remove(output.getKey());
            }
        }
        if (new TreeSet<>(taken).equals(new TreeSet<>(manifest.inputNames))) {
            return null;
        }
        return "bundle.json lists the model inputs " + String.join(", ", manifest.inputNames)
            + "; the model takes " + String.join(", ", taken);
    }

    /**
     * runtime_py's check_outputs: the output bundle.json names is one the model has, and a classifier names as
     * many labels as it has outputs (where the model's output width is fixed). Null when both hold.
     */
    static String outputProblem(BundleManifest manifest, Map<String, NodeInfo> outputs) {
        NodeInfo output = outputs.get(manifest.outputName);
        if (output == null) {
            return "bundle.json names the output '" + manifest.outputName + "'; the model's are "
                + String.join(", ", outputs.keySet());
        }
        if (!(output.getInfo() instanceof TensorInfo)) {
            return "the model's output " + manifest.outputName + " is not a tensor";
        }
        long[] shape = ((TensorInfo) output.getInfo()).getShape();
        long width = shape.length == 0 ? -1 : shape[shape.length - 1];
        if (manifest.isClassifier() && manifest.labels != null && width > 0 && manifest.labels.size() != width) {
            return "bundle.json names " + manifest.labels.size() + " labels for a model with " + width + " outputs";
        }
        return null;
    }

    /** Runs the weights model once (it reads no input); its outputs live as long as the EdgeModel. */
    private static OrtSession.Result loadWeights(OrtEnvironment env, Path file) throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
             OrtSession decode = env.createSession(file.toString(), options)) {
            return decode.run(Collections.emptyMap());
        }
    }

    /** The model's output for one text: logits, or the sentence embedding. */
    public float[] run(String text) throws OrtException {
        return runBatch(Collections.singletonList(text))[0];
    }

    /** One padded batch (the golden self-check replays the probes this way too). */
    public float[][] runBatch(List<String> texts) throws OrtException {
        int[][] ids = new int[texts.size()][];
        for (int row = 0; row < ids.length; row++) {
            ids[row] = tokenizer.encode(texts.get(row), manifest.maxLength);
        }
        return runIds(ids, new int[ids.length][0]);  // single-segment texts: all type 0
    }

    /** A pair model's output for one (text, textPair): its logits, or its one score. */
    public float[] runPair(String text, String textPair) throws OrtException {
        return runPairBatch(Collections.singletonList(new String[] {text, textPair}))[0];
    }

    /** One padded batch of pairs, each a String[] {text, textPair}. */
    public float[][] runPairBatch(List<String[]> pairs) throws OrtException {
        int[][] ids = new int[pairs.size()][];
        int[][] types = new int[pairs.size()][];
        for (int row = 0; row < ids.length; row++) {
            WordPieceTokenizer.Pair pair = tokenizer.encodePair(pairs.get(row)[0], pairs.get(row)[1],
                manifest.maxLength);
            ids[row] = pair.ids;
            types[row] = pair.typeIds;
        }
        return runIds(ids, types);
    }

    /** Rows of token ids (and token types; a shorter or empty row means type 0), padded into one batch. */
    private float[][] runIds(int[][] ids, int[][] types) throws OrtException {
        int width = 0;
        for (int[] row : ids) {
            width = Math.max(width, row.length);
        }
        long[] inputIds = new long[ids.length * width];
        long[] mask = new long[ids.length * width];
        long[] typeIds = new long[ids.length * width];
        java.util.Arrays.fill(inputIds, manifest.padId);
        for (int row = 0; row < ids.length; row++) {
            for (int col = 0; col < ids[row].length; col++) {
                inputIds[row * width + col] = ids[row][col];
                mask[row * width + col] = 1;
                typeIds[row * width + col] = col < types[row].length ? types[row][col] : 0;
            }
        }
        long[] shape = {ids.length, width};
        Map<String, long[]> columns = new HashMap<>();
        columns.put("input_ids", inputIds);
        columns.put("attention_mask", mask);
        columns.put("token_type_ids", typeIds);
        Map<String, OnnxTensor> inputs = new HashMap<>();
        try {
            for (String name : manifest.inputNames) {
                inputs.put(name, OnnxTensor.createTensor(env, LongBuffer.wrap(columns.get(name)), shape));
            }
            Map<String, OnnxTensor> feed = new HashMap<>(inputs);
            if (weights != null) {
                for (Map.Entry<String, ai.onnxruntime.OnnxValue> output : weights) {
                    feed.put(output.getKey(), (OnnxTensor) output.getValue());
                }
            }
            // the output bundle.json names (runtime_py runs by name too), not whichever the model lists first
            try (OrtSession.Result result = session.run(feed, Collections.singleton(manifest.outputName))) {
                return (float[][]) result.get(0).getValue();
            }
        } finally {
            inputs.values().forEach(OnnxTensor::close);  // the text's tensors only: the weights stay
        }
    }

    @Override
    public void close() throws OrtException {
        try {
            session.close();
        } finally {  // the decoded weights are native memory too, freed even when the session's close fails
            if (weights != null) {
                weights.close();
            }
        }
    }
}
