package org.bertedge.core;

import ai.onnxruntime.OrtException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Replays golden.json through this runtime, as runtime_py/self_check.py does: the probes' token ids must equal
 * the stored ones exactly, and the outputs, one padded batch and one probe at a time, must agree with the
 * stored fp32 PyTorch `reference` within the bundle's tolerance (the exporter's own verdict, Parity).
 */
public final class SelfCheck {
    public final int probes;
    public final Parity parity;
    public final double maxAbsDiffVsExport;  // against the exporter's own ORT outputs (`bundle`), same batch
    public final List<String> failures;

    private SelfCheck(int probes, Parity parity, double maxAbsDiffVsExport, List<String> failures) {
        this.probes = probes;
        this.parity = parity;
        this.maxAbsDiffVsExport = maxAbsDiffVsExport;
        this.failures = failures;
    }

    public boolean passed() {
        return failures.isEmpty();
    }

    public static SelfCheck run(EdgeModel model) throws BundleManifest.BundleException, OrtException {
        BundleManifest manifest = model.manifest;
        if (!manifest.lists("golden.json")) {  // its sha256, checked at load, makes the replay a check
            throw new BundleManifest.BundleException("bundle.json: golden.json is not listed in files with its"
                + " sha256");
        }
        String golden = BundleManifest.readText(manifest.folder.resolve("golden.json"));
        try {
            return replay(model, Json.array(Json.object(Json.parse(golden)).get("probes")));
        } catch (IllegalArgumentException | ClassCastException | NullPointerException e) {
            throw new BundleManifest.BundleException("golden.json is not a list of probes with their token ids and"
                + " outputs: " + e);  // runtime_py's _read_probes refuses the same
        }
    }

    private static SelfCheck replay(EdgeModel model, List<Object> items)
        throws BundleManifest.BundleException, OrtException {
        BundleManifest manifest = model.manifest;
        if (items.isEmpty()) {
            throw new BundleManifest.BundleException("golden.json holds no probes");
        }
        int n = items.size();
        List<String> texts = new ArrayList<>();
        List<String[]> pairs = new ArrayList<>();
        double[][] reference = new double[2 * n][];
        double[][] exported = new double[n][];
        List<String> failures = new ArrayList<>();
        int idMismatches = 0;
        String firstMismatch = null;
        for (int i = 0; i < n; i++) {
            Map<String, Object> probe = Json.object(items.get(i));
            String text = (String) probe.get("text");
            String textPair = (String) probe.get("text_pair");
            texts.add(text);
            pairs.add(new String[] {text, textPair});
            reference[i] = Json.doubles(probe.get("reference"));
            reference[n + i] = reference[i];
            exported[i] = Json.doubles(probe.get("bundle"));
            if (!tokensMatch(model, probe, text, textPair)) {
                idMismatches++;
                firstMismatch = firstMismatch == null ? text : firstMismatch;
            }
        }
        boolean paired = manifest.takesPairs();
        float[][] batched = paired ? model.runPairBatch(pairs) : model.runBatch(texts);
        for (int i = 0; i < n; i++) {
            if (reference[i].length != batched[i].length || exported[i].length != batched[i].length) {
                throw new BundleManifest.BundleException("golden.json's outputs hold " + reference[i].length
                    + " values a probe; the model gives " + batched[i].length);
            }
        }
        float[][] outputs = Arrays.copyOf(batched, 2 * n);
        for (int i = 0; i < n; i++) {
            outputs[n + i] = paired ? model.runPair(texts.get(i), pairs.get(i)[1]) : model.run(texts.get(i));
        }
        if (idMismatches > 0) {
            failures.add("token ids differ from golden.json on " + idMismatches + " probe(s): \"" + firstMismatch
                + "\"");
        }
        Parity parity = Parity.agreement(outputs, reference, manifest.isClassifier());
        failures.addAll(parity.failures(manifest.minCosine, manifest.minTop1Agreement));
        return new SelfCheck(n, parity, maxAbsDiff(batched, exported), failures);
    }

    /** The probe's token ids (and, for a pair, its token types) as this tokenizer makes them, against golden.json. */
    private static boolean tokensMatch(EdgeModel model, Map<String, Object> probe, String text, String textPair) {
        int[] expected = ints(probe.get("input_ids"));
        int maxLength = model.manifest.maxLength;
        if (textPair == null) {
            return Arrays.equals(model.tokenizer.encode(text, maxLength), expected);
        }
        WordPieceTokenizer.Pair pair = model.tokenizer.encodePair(text, textPair, maxLength);
        Object types = probe.get("token_type_ids");
        return Arrays.equals(pair.ids, expected) && (types == null || Arrays.equals(pair.typeIds, ints(types)));
    }

    private static int[] ints(Object jsonArray) {
        return Arrays.stream(Json.doubles(jsonArray)).mapToInt(v -> (int) v).toArray();
    }

    private static double maxAbsDiff(float[][] a, double[][] b) {
        double max = 0;
        for (int row = 0; row < b.length; row++) {
            for (int j = 0; j < b[row].length; j++) {
                max = Math.max(max, Math.abs(a[row][j] - b[row][j]));
            }
        }
        return max;
    }
}
