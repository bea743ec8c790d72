package org.bertedge.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** bundle.json read and checked without a model: fields, the format version, the sha256 of every listed file. */
public class BundleManifestTest {
    @Rule
    public final TemporaryFolder temp = new TemporaryFolder();


    private Path bundle(String formatVersion, String modelSha256) throws Exception {
        Path folder = temp.newFolder("bundle").toPath();
        Files.write(folder.resolve("model.onnx"), "onnx".getBytes(StandardCharsets.UTF_8));
        Files.write(folder.resolve("tokenizer.json"), "{}".getBytes(StandardCharsets.UTF_8));
        String json = "{\"format_version\": " + formatVersion + ", \"task\": \"text-classification\","
            + " \"labels\": [\"negative\", \"positive\"], \"max_length\": 128,"
            + " \"model\": {\"file\": \"model.onnx\", \"inputs\": [{\"name\": \"input_ids\"},"
            + " {\"name\": \"attention_mask\"}], \"outputs\": [{\"name\": \"logits\"}]},"
            + " \"tokenizer\": {\"file\": \"tokenizer.json\", \"pad_id\": 0},"
            + " \"tolerance\": {\"min_cosine\": 0.95, \"min_top1_agreement\": 1.0},"
            + " \"files\": {\"model.onnx\": \"" + modelSha256 + "\", \"tokenizer.json\": \"" + sha256("{}") + "\"}}";
        Files.write(folder.resolve("bundle.json"), json.getBytes(StandardCharsets.UTF_8));
        return folder;
    }

    private static String sha256(String text) throws Exception {
        StringBuilder hex = new StringBuilder();
        for (byte b : java.security.MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8))) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }

    @Test
    public void readsTheFieldsTheRunnerNeeds() throws Exception {
        BundleManifest manifest = BundleManifest.load(bundle("2", sha256("onnx")));
        assertTrue(manifest.isClassifier());
        assertEquals(Arrays.asList("negative", "positive"), manifest.labels);
        assertEquals(128, manifest.maxLength);
        assertEquals("model.onnx", manifest.modelFile);
        assertArrayEquals(new String[] {"input_ids", "attention_mask"}, manifest.inputNames.toArray());
        assertEquals("logits", manifest.outputName);
        assertEquals(0.95, manifest.minCosine, 0.0);
        assertEquals(1.0, manifest.minTop1Agreement, 0.0);
    }

    @Test
    public void aFileWhoseSha256DiffersIsNamedCorrupt() throws Exception {
        Path folder = bundle("2", sha256("something else"));
        String message = assertThrows(BundleManifest.BundleException.class, () -> BundleManifest.load(folder))
            .getMessage();
        assertEquals("bundle file corrupt (sha256 differs from bundle.json): " + folder.resolve("model.onnx"),
            message);
    }

    @Test
    public void aMissingFileIsNamed() throws Exception {
        Path folder = bundle("2", sha256("onnx"));
        Files.delete(folder.resolve("model.onnx"));
        assertEquals("bundle file missing: " + folder.resolve("model.onnx"),
            assertThrows(BundleManifest.BundleException.class, () -> BundleManifest.load(folder)).getMessage());
    }

    @Test
    public void anotherFormatVersionIsRefused() throws Exception {
        Path folder = bundle("1", sha256("onnx"));
        String message = assertThrows(BundleManifest.BundleException.class, () -> BundleManifest.load(folder))
            .getMessage();
        assertTrue(message, message.endsWith("bundle.json: format_version 1; this runtime reads 2"));
    }

    @Test
    public void brokenJsonAndMissingFieldsAreNamed() throws Exception {
        Path folder = bundle("2", sha256("onnx"));
        Files.delete(folder.resolve("tokenizer.json"));  // never read before the checks pass: its absence is not named
        Files.write(folder.resolve("bundle.json"), "{\"format_version\": 2,".getBytes(StandardCharsets.UTF_8));
        String message = assertThrows(BundleManifest.BundleException.class, () -> BundleManifest.load(folder))
            .getMessage();
        assertTrue(message, message.contains("bundle.json is not valid JSON"));
        Files.write(folder.resolve("bundle.json"), "{\"format_version\": 2}".getBytes(StandardCharsets.UTF_8));
        message = assertThrows(BundleManifest.BundleException.class, () -> BundleManifest.load(folder)).getMessage();
        assertTrue(message, message.endsWith("bundle.json: missing field 'task'"));
    }

    @Test
    public void aMaxLengthWithNoRoomForATokenIsRefused() throws Exception {
        Path folder = bundle("2", sha256("onnx"));
        Path json = folder.resolve("bundle.json");
        String text = new String(Files.readAllBytes(json), StandardCharsets.UTF_8);
        Files.write(json, text.replace("\"max_length\": 128", "\"max_length\": -1").getBytes(StandardCharsets.UTF_8));
        String message = assertThrows(BundleManifest.BundleException.class, () -> BundleManifest.load(folder))
            .getMessage();
        assertTrue(message, message.endsWith("bundle.json: max_length -1 is not between 2 and 1048576"));
    }

    @Test
    public void valuesOutsideTheirRangesAreRefusedAsRuntimePyRefusesThem() throws Exception {
        String[][] cases = {
            {"\"name\": \"attention_mask\"", "\"name\": \"position_ids\"",
                "model input position_ids is not one this runtime fills"},  // was a NullPointerException at run time
            {"\"task\": \"text-classification\"", "\"task\": \"translation\"",
                "task translation is not one of feature-extraction, text-classification, text-pair-classification"},
            {"\"file\": \"model.onnx\"", "\"file\": \"../model.onnx\"",
                "'../model.onnx' is not a file inside the bundle's folder"},
            {"{\"model.onnx\": ", "{\"/etc/hostname\": \"0\", \"model.onnx\": ",
                "'/etc/hostname' is not a file inside the bundle's folder"},
            {"{\"model.onnx\": \"", "{\"other.onnx\": \"", "model.file model.onnx is not listed in files with its sha256"},
            {"{\"model.onnx\": \"", "{\"model.onnx\": 5, \"x\": \"", "files must map each file's name to its sha256"},
            {"\"text-classification\", \"labels\": [\"negative\", \"positive\"], \"max_length\": 128",
                "\"text-pair-classification\", \"labels\": [\"negative\", \"positive\"], \"max_length\": 4",
                "max_length 4 leaves a pair model no room for text (its 3 special tokens and a token of each text"
                    + " need 5)"},  // at 3 it held [CLS] [SEP] [SEP] and no text
            {"\"max_length\": 128", "\"max_length\": 1000000000000000000000000000000",
                "max_length 1.0E30 is not between 2 and 1048576"},
            {"\"pad_id\": 0", "\"pad_id\": 99999999999", "tokenizer.pad_id 99999999999 is not a token id"},
            // whole numbers as runtime_py's test_a_manifest_with_a_malformed_field_is_refused has them
            {"\"max_length\": 128", "\"max_length\": 512.9", "max_length: 512.9 is not a whole number"},  // was 512
            {"\"max_length\": 128", "\"max_length\": \"300\"", "max_length: 300 is not a whole number"},
            {"\"pad_id\": 0", "\"pad_id\": true", "tokenizer.pad_id: true is not a whole number"},
            {"\"min_cosine\": 0.95", "\"min_cosine\": 2",
                "tolerance: min_cosine must be within [-1, 1] and min_top1_agreement within [0, 1]"},
            {"\"min_cosine\": 0.95", "\"min_cosine\": \"0.9\"",  // was a ClassCastException's text
                "tolerance: min_cosine must be within [-1, 1] and min_top1_agreement within [0, 1]"},
            {"\"min_top1_agreement\": 1.0", "\"min_top1_agreement\": true",
                "tolerance: min_cosine must be within [-1, 1] and min_top1_agreement within [0, 1]"},
            {"[\"negative\", \"positive\"]", "[]", "labels must be a list of label names"},  // was accepted
        };
        for (String[] change : cases) {
            Path folder = bundle("2", sha256("onnx"));
            Path json = folder.resolve("bundle.json");
            String text = new String(Files.readAllBytes(json), StandardCharsets.UTF_8);
            Files.write(json, text.replace(change[0], change[1]).getBytes(StandardCharsets.UTF_8));
            String message = assertThrows(BundleManifest.BundleException.class, () -> BundleManifest.load(folder))
                .getMessage();
            assertTrue(message, message.endsWith("bundle.json: " + change[2]));
            temp.delete();
            temp.create();
        }
    }
}
