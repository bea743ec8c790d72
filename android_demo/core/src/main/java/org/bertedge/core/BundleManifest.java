package org.bertedge.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * bundle.json, the contract with the exporter: what the model needs and returns, and the sha256 of every file.
 * Mirrors runtime_py/manifest.py: the same format version, the same checks, errors that name the file.
 */
public final class BundleManifest {
    public static final long FORMAT_VERSION = 2;
    public static final long MAX_LENGTH_LIMIT = 1L << 20;  // tokens; far past any BERT-family position table
    private static final List<String> INPUTS = java.util.Arrays.asList("input_ids", "attention_mask", "token_type_ids");
    private static final List<String> TASKS = java.util.Arrays.asList("feature-extraction", "text-classification",
        "text-pair-classification");

    public final Path folder;
    public final String task;
    public final List<String> labels;  // null for embedders
    public final int maxLength;
    public final String modelFile;
    public final String weightsFile;  // a model run once at load whose outputs are the model's other inputs; or null
    public final List<String> inputNames = new ArrayList<>();
    public final String outputName;
    public final String tokenizerFile;
    public final int padId;
    public final double minCosine;
    public final double minTop1Agreement;
    private final Map<String, Object> files;

    private BundleManifest(Path folder, Map<String, Object> raw) {
        this.folder = folder;
        task = (String) required(raw, "task");
        if (!TASKS.contains(task)) {
            throw new IllegalArgumentException("task " + task + " is not one of " + String.join(", ", TASKS));
        }
        labels = raw.get("labels") == null ? null : stringList(raw.get("labels"));
        if (labels != null && labels.isEmpty()) {  // runtime_py's rule: a classifier's labels name its outputs
            throw new IllegalArgumentException("labels must be a list of label names");
        }
        maxLength = (int) within(wholeNumber(required(raw, "max_length"), "max_length"), 2, MAX_LENGTH_LIMIT,
            "max_length %s is not between 2 and " + MAX_LENGTH_LIMIT);  // [CLS] and [SEP] alone fill 2
        Map<String, Object> model = Json.object(required(raw, "model"));
        modelFile = (String) required(model, "file");
        weightsFile = (String) model.get("weights");
        for (Object input : Json.array(required(model, "inputs"))) {
            String name = (String) Json.object(input).get("name");
            if (!INPUTS.contains(name)) {  // EdgeModel fills only these
                throw new IllegalArgumentException("model input " + name + " is not one this runtime fills");
            }
            inputNames.add(name);
        }
        outputName = (String) Json.object(Json.array(required(model, "outputs")).get(0)).get("name");
        Map<String, Object> tokenizer = Json.object(required(raw, "tokenizer"));
        tokenizerFile = (String) required(tokenizer, "file");
        padId = (int) within(wholeNumber(required(tokenizer, "pad_id"), "tokenizer.pad_id"), 0, Integer.MAX_VALUE,
            "tokenizer.pad_id %s is not a token id");
        Map<String, Object> tolerance = Json.object(required(raw, "tolerance"));
        String toleranceRange = "tolerance: min_cosine must be within [-1, 1] and min_top1_agreement within [0, 1]";
        minCosine = within(required(tolerance, "min_cosine"), -1, 1, toleranceRange);
        minTop1Agreement = within(required(tolerance, "min_top1_agreement"), 0, 1, toleranceRange);
        files = Json.object(required(raw, "files"));
        if (takesPairs() && maxLength < 5) {  // [CLS] a [SEP] b [SEP]: a token of each text (runtime_py's TextEncoder)
            throw new IllegalArgumentException("max_length " + maxLength + " leaves a pair model no room for text"
                + " (its 3 special tokens and a token of each text need 5)");
        }
        for (Map.Entry<String, Object> file : files.entrySet()) {
            insideTheFolder(file.getKey());
            if (!(file.getValue() instanceof String)) {
                throw new IllegalArgumentException("files must map each file's name to its sha256");
            }
        }
        String[][] read = {{"model.file", modelFile}, {"model.weights", weightsFile}, {"tokenizer.file", tokenizerFile}};
        for (String[] name : read) {
            if (name[1] == null) {
                continue;  // only the weights are optional: the others were required above
            }
            insideTheFolder(name[1]);
            if (!files.containsKey(name[1])) {  // so that every file the runtime reads is checked by its sha256
                throw new IllegalArgumentException(name[0] + " " + name[1] + " is not listed in files with its sha256");
            }
        }
    }

    /** runtime_py's inside_the_folder: a relative name with no "..", no drive and no backslash. */
    private static void insideTheFolder(String name) {
        Path path = java.nio.file.Paths.get(name.isEmpty() ? "/" : name);
        boolean inside = !name.isEmpty() && !name.contains("\\") && !name.contains(":") && !name.startsWith("/");
        for (Path part : path) {
            inside &= !part.toString().equals("..");
        }
        if (!inside) {
            throw new IllegalArgumentException("'" + name + "' is not a file inside the bundle's folder");
        }
    }

    /**
     * A JSON whole number as it is: not a string of one or a fraction (runtime_py's whole_number). A whole number
     * past a long's range, which Json reads as a Double, passes here and fails the range check after it.
     */
    private static Object wholeNumber(Object value, String name) {
        if (!(value instanceof Long) && !(value instanceof Double && isWhole((Double) value))) {
            throw new IllegalArgumentException(name + ": " + value + " is not a whole number");
        }
        return value;
    }

    private static boolean isWhole(double value) {  // a whole number past a long's range, as Json reads it
        return !Double.isInfinite(value) && value == Math.rint(value) && Math.abs(value) > Long.MAX_VALUE;
    }

    /** A number of bundle.json between low and high (else the message, with %s the value); runtime_py's checks. */
    private static double within(Object value, double low, double high, String message) {
        double number = value instanceof Number ? ((Number) value).doubleValue() : Double.NaN;  // "0.9", true: none
        if (!(number >= low && number <= high)) {  // NaN is outside every range
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, message, value));
        }
        return number;
    }

    /** Whether bundle.json lists `name` with its sha256 (checked at load). */
    public boolean lists(String name) {
        return files.containsKey(name);
    }

    /** Outputs are logits (or a pair model's one score), not a sentence embedding. */
    public boolean isClassifier() {
        return !"feature-extraction".equals(task);
    }

    /** The model reads a (text, textPair) at once: tokens of the second text have type 1. */
    public boolean takesPairs() {
        return "text-pair-classification".equals(task);
    }

    /** Read bundle.json from a folder and check every listed file against its sha256. */
    public static BundleManifest load(Path folder) throws BundleException {
        Path path = folder.resolve("bundle.json");
        Map<String, Object> raw;
        try {
            raw = Json.object(Json.parse(readText(path)));
        } catch (IllegalArgumentException | ClassCastException e) {
            throw new BundleException(path + " is not valid JSON: " + e.getMessage());
        }
        Object version = raw.get("format_version");
        if (!(version instanceof Long) || (Long) version != FORMAT_VERSION) {
            throw new BundleException(path + ": format_version " + version + "; this runtime reads " + FORMAT_VERSION);
        }
        BundleManifest manifest;
        try {
            manifest = new BundleManifest(folder, raw);
        } catch (RuntimeException e) {
            throw new BundleException(path + ": " + e.getMessage());
        }
        for (Map.Entry<String, Object> file : manifest.files.entrySet()) {
            checkFile(folder.resolve(file.getKey()), (String) file.getValue());
        }
        return manifest;
    }

    public static String readText(Path path) throws BundleException {
        try {
            return new String(Files.readAllBytes(path), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new BundleException("bundle file missing: " + path);
        }
    }

    private static void checkFile(Path path, String expected) throws BundleException {
        if (!Files.isRegularFile(path)) {
            throw new BundleException("bundle file missing: " + path);
        }
        try (InputStream in = Files.newInputStream(path)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (int n = in.read(buffer); n > 0; n = in.read(buffer)) {
                digest.update(buffer, 0, n);
            }
            StringBuilder hex = new StringBuilder();
            for (byte b : digest.digest()) {
                hex.append(String.format("%02x", b));
            }
            if (!hex.toString().equals(expected)) {
                throw new BundleException("bundle file corrupt (sha256 differs from bundle.json): " + path);
            }
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new BundleException("cannot read bundle file " + path + ": " + e.getMessage());
        }
    }

    private static Object required(Map<String, Object> map, String key) {
        Object value = map.get(key);
        if (value == null) {
            throw new IllegalArgumentException("missing field '" + key + "'");
        }
        return value;
    }

    private static List<String> stringList(Object value) {
        List<String> out = new ArrayList<>();
        for (Object item : Json.array(value)) {
            out.add((String) item);
        }
        return out;
    }

    /** A bundle that cannot be used: missing, corrupt, or of a format this code does not know. */
    public static final class BundleException extends Exception {
        public BundleException(String message) {
            super(message);
        }
    }
}
