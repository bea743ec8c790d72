package org.bertedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The core on real exported bundles and ONNX Runtime's Java API. The bundles come from the system property
 * bertedge.bundles (folders joined by the path separator): tests/test_android_core.py passes the bundles it
 * exported in the same run, and Gradle passes -Pbundles=... (android_demo/core/build.gradle runs this class only
 * then).
 */
public class BundleRunTest {
    @Rule
    public final TemporaryFolder temp = new TemporaryFolder();

    static List<Path> bundles() {
        String value = System.getProperty("bertedge.bundles", "");
        assertTrue("set -Dbertedge.bundles=BUNDLE_DIR[" + File.pathSeparator + "...] to exported bundles",
            !value.isEmpty());
        List<Path> out = new ArrayList<>();
        for (String folder : value.split(File.pathSeparator)) {
            out.add(Paths.get(folder));
        }
        return out;
    }

    @Test
    public void everyBundlePassesItsGoldenSelfCheck() throws Exception {
        for (Path folder : bundles()) {
            try (EdgeModel model = EdgeModel.load(folder, 1)) {
                SelfCheck check = SelfCheck.run(model);
                assertTrue(folder + ": " + check.failures, check.passed());
                assertEquals(model.manifest.takesPairs() ? 10 : 12, check.probes);  // export/probes.py's
                assertTrue(check.parity.minCosine >= model.manifest.minCosine);
            }
        }
    }

    @Test
    public void everyBundleJsonConformsToTheSchema() throws Exception {
        SchemaCheck schema = BundleSchemaTest.schema();
        for (Path folder : bundles()) {
            Object manifest = Json.parse(BundleManifest.readText(folder.resolve("bundle.json")));
            assertEquals(folder.toString(), List.of(), schema.errors(manifest));
        }
    }

    @Test
    public void theDemoAnswersAsTheTaskSays() throws Exception {
        for (Path folder : bundles()) {
            try (EdgeModel model = EdgeModel.load(folder, 1)) {
                List<String> sentences = Arrays.asList("a cat sleeps on the sofa", "the stock market fell today",
                    "a kitten naps on a couch");
                Demo.Answer answer = new Demo(model, sentences).ask("a small cat is sleeping on the couch");
                if (model.manifest.takesPairs()) {
                    assertEquals(Demo.HITS, answer.lines.size());  // reranked by the pair model's scores
                    assertTrue(answer.lines.toString(), answer.lines.get(2).endsWith("the stock market fell today"));
                    assertEquals(sentences.size(), answer.output.length);
                } else if (model.manifest.isClassifier()) {
                    assertNotNull(model.manifest.labels);
                    String label = answer.headline.substring(0, answer.headline.indexOf(" ("));
                    assertTrue(answer.headline, model.manifest.labels.contains(label));
                    assertEquals(model.manifest.labels.size(), answer.output.length);
                } else {
                    assertEquals(Demo.HITS, answer.lines.size());
                    assertTrue(answer.lines.toString(), answer.lines.get(2).endsWith("the stock market fell today"));
                    double norm = 0;
                    for (float v : answer.output) {
                        norm += v * v;
                    }
                    assertEquals(1.0, Math.sqrt(norm), 1e-3);  // pooled and L2-normalised inside the graph
                }
            }
        }
    }

    @Test
    public void aCorruptedModelFileIsRefusedBeforeLoading() throws Exception {
        Path source = bundles().get(0);
        Path copy = temp.newFolder("copy").toPath();
        try (Stream<Path> files = Files.list(source)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                Files.copy(file, copy.resolve(file.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
        String modelFile = BundleManifest.load(copy).modelFile;
        byte[] bytes = Files.readAllBytes(copy.resolve(modelFile));
        bytes[bytes.length / 2] ^= 1;
        Files.write(copy.resolve(modelFile), bytes);
        String message = assertThrows(BundleManifest.BundleException.class, () -> EdgeModel.load(copy, 1)).getMessage();
        assertTrue(message, message.startsWith("bundle file corrupt"));
    }
}
