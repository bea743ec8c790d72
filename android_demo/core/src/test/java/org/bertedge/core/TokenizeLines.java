package org.bertedge.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;

/**
 * Test driver: java TokenizeLines tokenizer.json MAX_LENGTH texts.jsonl — one JSON string (or a [text, textPair]
 * array) per input line, one line of space-separated ids per text on stdout, and for a pair ";" and its token
 * types (compared with Python's by tests/test_android_core.py).
 */
public final class TokenizeLines {
    public static void main(String[] args) throws IOException {
        String json = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8);
        WordPieceTokenizer tokenizer = new WordPieceTokenizer(json);
        int maxLength = Integer.parseInt(args[1]);
        StringBuilder out = new StringBuilder();
        for (String line : Files.readAllLines(Paths.get(args[2]), StandardCharsets.UTF_8)) {
            Object item = Json.parse(line);
            if (item instanceof String) {
                append(out, tokenizer.encode((String) item, maxLength));
            } else {
                java.util.List<Object> pair = Json.array(item);
                WordPieceTokenizer.Pair encoded = tokenizer.encodePair((String) pair.get(0), (String) pair.get(1),
                    maxLength);
                append(out, encoded.ids);
                append(out.append(';'), encoded.typeIds);
            }
            out.append('\n');
        }
        System.out.print(out);
    }

    private static void append(StringBuilder out, int[] values) {
        for (int i = 0; i < values.length; i++) {
            out.append(i == 0 ? "" : " ").append(values[i]);
        }
    }
}
