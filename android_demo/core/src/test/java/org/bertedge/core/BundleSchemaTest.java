package org.bertedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * bundle.json against runtime_py/bundle.schema.json, the one written definition of the format: a manifest as the
 * exporter writes it conforms, and one that breaks the contract does not (BundleRunTest checks real bundles).
 */
public class BundleSchemaTest {
    static final String MANIFEST = "{\"format_version\": 2, \"preset\": \"bert\", \"checkpoint\": \"m\","
        + " \"model_type\": \"bert\", \"task\": \"text-pair-classification\", \"labels\": [\"similarity\"],"
        + " \"pooling\": null, \"normalized\": false, \"max_length\": 256,"
        + " \"model\": {\"file\": \"model.ort\", \"format\": \"ort\", \"inputs\": ["
        + "{\"name\": \"input_ids\", \"dtype\": \"int64\", \"shape\": [\"batch\", \"sequence\"]},"
        + " {\"name\": \"attention_mask\", \"dtype\": \"int64\", \"shape\": [\"batch\", \"sequence\"]}],"
        + " \"outputs\": [{\"name\": \"logits\", \"dtype\": \"float32\", \"shape\": [\"batch\", \"features\"]}]},"
        + " \"tokenizer\": {\"file\": \"tokenizer.json\", \"files\": [\"tokenizer.json\"], \"pad_id\": 0},"
        + " \"embedding\": {\"method\": \"int8\", \"ratio_requested\": null, \"seed\": 0, \"settings\": {}},"
        + " \"encoder\": {\"method\": \"int8\"}, \"tolerance\": {\"min_cosine\": 0.95, \"min_top1_agreement\": 0.0},"
        + " \"tools\": {\"onnxruntime\": \"1.32.0\"}, \"files\": {\"model.ort\": \"" + "a".repeat(64) + "\","
        + " \"golden.json\": \"" + "b".repeat(64) + "\", \"tokenizer.json\": \"" + "c".repeat(64) + "\"}}";

    /** The schema file: -Dbertedge.schema, else runtime_py/bundle.schema.json above the working folder. */
    static SchemaCheck schema() throws Exception {
        String given = System.getProperty("bertedge.schema");
        Path dir = Paths.get("").toAbsolutePath();
        while (given == null && dir != null && !Files.isRegularFile(dir.resolve("runtime_py/bundle.schema.json"))) {
            dir = dir.getParent();
        }
        assertNotNull("runtime_py/bundle.schema.json not found above the working folder; set -Dbertedge.schema",
            given != null ? given : dir);
        Path path = given != null ? Paths.get(given) : dir.resolve("runtime_py/bundle.schema.json");
        return new SchemaCheck(Json.object(Json.parse(BundleManifest.readText(path))));
    }

    @Test
    public void aManifestAsTheExporterWritesItConforms() throws Exception {
        assertEquals(List.of(), schema().errors(Json.parse(MANIFEST)));
    }

    @Test
    public void aManifestThatBreaksTheContractIsCaught() throws Exception {
        Map<String, Object> broken = Json.object(Json.parse(MANIFEST));
        broken.remove("files");
        broken.put("task", "translation");
        broken.put("max_length", 1);
        broken.put("extra", true);
        List<String> errors = schema().errors(broken);
        assertTrue(errors.toString(), errors.contains("$: missing files"));
        assertTrue(errors.toString(), errors.stream().anyMatch(e -> e.startsWith("$.task: translation is not one")));
        assertTrue(errors.toString(), errors.contains("$.max_length: below 2"));
        assertTrue(errors.toString(), errors.contains("$.extra: not allowed"));
        Json.object(broken.get("tokenizer")).put("pad_id", 1L << 40);
        Json.object(broken.get("model")).put("file", "");
        errors = schema().errors(broken);
        assertTrue(errors.toString(), errors.contains("$.tokenizer.pad_id: above 2147483647"));
        assertTrue(errors.toString(), errors.contains("$.model.file: shorter than 1"));
    }
}
