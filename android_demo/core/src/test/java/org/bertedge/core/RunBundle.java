package org.bertedge.core;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Test driver for the runner (tests/test_android_core.py):
 *   java RunBundle BUNDLE --self-check        one JSON object; exit 0 passed, 1 failed
 *   java RunBundle BUNDLE TEXTS.jsonl [SENTENCES.jsonl]
 *       one JSON line per text: the raw output, and the Demo screen's headline and lines (searching the
 *       sentences for an embedder, reranking them for a pair model); a [text, textPair] line on a pair model
 *       gives that pair's raw output only
 * A bad bundle: "error: ..." on stderr, exit 2.
 */
public final class RunBundle {
    public static void main(String[] args) throws Exception {
        EdgeModel model;
        try {
            model = EdgeModel.load(Paths.get(args[0]), 1);
        } catch (BundleManifest.BundleException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(2);
            return;
        }
        try (EdgeModel m = model) {
            if (args[1].equals("--self-check")) {
                SelfCheck check;
                try {
                    check = SelfCheck.run(m);
                } catch (BundleManifest.BundleException e) {  // golden.json missing or malformed
                    System.err.println("error: " + e.getMessage());
                    System.exit(2);
                    return;
                }
                System.out.println(String.format(Locale.ROOT,
                    "{\"passed\": %b, \"probes\": %d, \"min_cosine\": %s, \"top1_agreement\": %s, "
                        + "\"max_abs_diff_vs_export\": %s, \"failures\": %s}",
                    check.passed(), check.probes, check.parity.minCosine, check.parity.top1Agreement,
                    check.maxAbsDiffVsExport, quoted(check.failures)));
                System.exit(check.passed() ? 0 : 1);
            }
            Demo demo = new Demo(m, args.length > 2 ? readLines(args[2]) : List.of());
            for (Object item : readItems(args[1])) {
                if (!(item instanceof String)) {
                    List<Object> pair = Json.array(item);
                    float[] output = m.runPair((String) pair.get(0), (String) pair.get(1));
                    System.out.println("{\"output\": " + floats(output) + "}");
                    continue;
                }
                Demo.Answer answer = demo.ask((String) item);
                System.out.println("{\"output\": " + floats(answer.output) + ", \"headline\": "
                    + quoted(answer.headline) + ", \"lines\": " + quoted(answer.lines) + "}");
            }
        }
    }

    /** JSON-lines file of strings: one JSON string per line. */
    static List<String> readLines(String path) throws Exception {
        List<String> out = new ArrayList<>();
        for (Object item : readItems(path)) {
            out.add((String) item);
        }
        return out;
    }

    /** JSON-lines file of strings or [text, textPair] arrays. */
    static List<Object> readItems(String path) throws Exception {
        List<Object> out = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get(path), StandardCharsets.UTF_8)) {
            out.add(Json.parse(line));
        }
        return out;
    }

    static String floats(float[] values) {
        StringBuilder out = new StringBuilder("[");
        for (int i = 0; i < values.length; i++) {
            out.append(i == 0 ? "" : ", ").append(Float.toString(values[i]));
        }
        return out.append(']').toString();
    }

    static String quoted(List<String> items) {
        StringBuilder out = new StringBuilder("[");
        for (String item : items) {
            out.append(out.length() > 1 ? ", " : "").append(quoted(item));
        }
        return out.append(']').toString();
    }

    static String quoted(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }
}
