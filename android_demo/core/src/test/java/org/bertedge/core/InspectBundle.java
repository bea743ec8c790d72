package org.bertedge.core;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;

/**
 * Test driver: java InspectBundle BUNDLE_DIR — loads the manifest (sha256 checks included) and compares
 * golden.json's `bundle` outputs (what the exporter's ORT run gave) with its `reference` outputs, printing
 * one JSON object; tests/test_android_core.py holds it to runtime_py's figures for the same arrays.
 * On a bad bundle: prints "error: ..." to stderr and exits 2.
 */
public final class InspectBundle {
    public static void main(String[] args) throws Exception {
        Path folder = Paths.get(args[0]);
        BundleManifest manifest;
        try {
            manifest = BundleManifest.load(folder);
        } catch (BundleManifest.BundleException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(2);
            return;
        }
        List<Object> probes = Json.array(Json.object(Json.parse(BundleManifest.readText(folder.resolve("golden.json"))))
            .get("probes"));
        float[][] outputs = new float[probes.size()][];
        double[][] reference = new double[probes.size()][];
        for (int i = 0; i < probes.size(); i++) {
            Map<String, Object> probe = Json.object(probes.get(i));
            double[] out = Json.doubles(probe.get("bundle"));
            reference[i] = Json.doubles(probe.get("reference"));
            outputs[i] = new float[out.length];
            for (int j = 0; j < out.length; j++) {
                outputs[i][j] = (float) out[j];
            }
        }
        Parity parity = Parity.agreement(outputs, reference, manifest.isClassifier());
        System.out.println("{\"task\": \"" + manifest.task + "\", \"max_length\": " + manifest.maxLength
            + ", \"inputs\": " + manifest.inputNames.size() + ", \"min_cosine\": " + parity.minCosine
            + ", \"max_abs_diff\": " + parity.maxAbsDiff + ", \"top1_agreement\": " + parity.top1Agreement
            + ", \"undecided\": " + parity.undecided + "}");
    }
}
