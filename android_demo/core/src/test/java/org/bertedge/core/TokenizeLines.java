package org.bertedge.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;

/**
 * Test driver: java TokenizeLines tokenizer.json MAX_LENGTH texts.jsonl — one JSON string per input line,
 * one line of space-separated ids per text on stdout (compared with Python's ids by tests/test_android_core.py).
 */
public final class TokenizeLines {
    public static void main(String[] args) throws IOException {
        String json = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8);
        WordPieceTokenizer tokenizer = new WordPieceTokenizer(json);
        int maxLength = Integer.parseInt(args[1]);
        StringBuilder out = new StringBuilder();
        for (String line : Files.readAllLines(Paths.get(args[2]), StandardCharsets.UTF_8)) {
            int[] ids = tokenizer.encode((String) Json.parse(line), maxLength);
            for (int i = 0; i < ids.length; i++) {
                out.append(i == 0 ? "" : " ").append(ids[i]);
            }
            out.append('\n');
        }
        System.out.print(out);
    }
}
