package org.bertedge.core;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * BERT's WordPiece tokenizer read from a bundle's tokenizer.json, giving exactly the ids of the Python
 * `tokenizers` library (HuggingFace): BertNormalizer (control characters dropped, whitespace unified, CJK
 * characters split off, accents stripped, lower-cased), BertPreTokenizer (split on whitespace, punctuation
 * isolated), greedy longest-match WordPiece with `##` continuations and [UNK], [CLS] ... [SEP] around, and
 * truncation to the bundle's max length. Special tokens written in the text ("[SEP]") are kept whole, as the
 * Python tokenizer does. Each rule below names the Python behaviour it mirrors.
 */
public final class WordPieceTokenizer {
    private final Map<String, Integer> vocab;
    private final List<String> addedTokens = new ArrayList<>();
    private final String unkToken;
    private final String prefix;
    private final int maxCharsPerWord;
    private final boolean cleanText;
    private final boolean splitChinese;
    private final boolean stripAccents;
    private final boolean lowercase;
    private final int clsId;
    private final int sepId;

    public WordPieceTokenizer(String tokenizerJson) {
        Map<String, Object> root = Json.object(Json.parse(tokenizerJson));
        Map<String, Object> model = Json.object(root.get("model"));
        if (!"WordPiece".equals(model.get("type"))) {
            throw new IllegalArgumentException("tokenizer.json: model type " + model.get("type") + ", not WordPiece");
        }
        vocab = new HashMap<>();
        for (Map.Entry<String, Object> e : Json.object(model.get("vocab")).entrySet()) {
            vocab.put(e.getKey(), ((Number) e.getValue()).intValue());
        }
        unkToken = (String) model.get("unk_token");
        prefix = (String) model.get("continuing_subword_prefix");
        maxCharsPerWord = ((Number) model.get("max_input_chars_per_word")).intValue();
        Map<String, Object> normalizer = Json.object(root.get("normalizer"));
        // what this class implements: BERT's normalizer and pre-tokenizer; another's flags would read as all
        // false (no lowercasing, no cleanup), which only a golden probe that happened to need them would catch
        requireType("normalizer", normalizer, "BertNormalizer");
        requireType("pre_tokenizer", Json.object(root.get("pre_tokenizer")), "BertPreTokenizer");
        cleanText = Boolean.TRUE.equals(normalizer.get("clean_text"));
        splitChinese = Boolean.TRUE.equals(normalizer.get("handle_chinese_chars"));
        lowercase = Boolean.TRUE.equals(normalizer.get("lowercase"));
        Object strip = normalizer.get("strip_accents");
        stripAccents = strip == null ? lowercase : Boolean.TRUE.equals(strip);  // null follows lowercase
        for (Object token : Json.array(root.get("added_tokens"))) {
            String content = (String) Json.object(token).get("content");
            addedTokens.add(content);
            vocab.putIfAbsent(content, ((Number) Json.object(token).get("id")).intValue());
        }
        int[] specials = specialIds(root.get("post_processor"));
        clsId = specials[0];
        sepId = specials[1];
    }

    /**
     * The ids of the two special tokens tokenizer.json's post-processor puts around the text, read as the Python
     * tokenizer reads them, and its layout checked to be BERT's, which encode and encodePair build: CLS A SEP, and
     * CLS A SEP B SEP with B and its SEP of type 1. Another layout, or another template, is refused by name.
     */
    private static int[] specialIds(Object spec) {
        Map<String, Object> processor = spec == null ? new HashMap<>() : Json.object(spec);
        Object type = processor.get("type");
        if ("BertProcessing".equals(type)) {
            return new int[] {tokenId(processor.get("cls")), tokenId(processor.get("sep"))};
        }
        if ("TemplateProcessing".equals(type)) {
            List<String> single = template(processor.get("single"));
            if (single.size() == 3) {
                String cls = single.get(0).substring(2, single.get(0).lastIndexOf(' '));
                String sep = single.get(2).substring(2, single.get(2).lastIndexOf(' '));
                List<String> bertSingle = Arrays.asList("S " + cls + " 0", "Q A 0", "S " + sep + " 0");
                List<String> bertPair = Arrays.asList("S " + cls + " 0", "Q A 0", "S " + sep + " 0", "Q B 1",
                    "S " + sep + " 1");
                if (single.equals(bertSingle) && template(processor.get("pair")).equals(bertPair)) {
                    Map<String, Object> tokens = Json.object(processor.get("special_tokens"));
                    return new int[] {templateId(tokens, cls), templateId(tokens, sep)};
                }
            }
        }
        throw new IllegalArgumentException("tokenizer.json: post_processor " + type + " does not lay texts out as BERT"
            + " does ([CLS] A [SEP] B [SEP]), which this core builds");
    }

    /** A template's pieces as "S token type" (a special token) or "Q sequence type" (a text). */
    private static List<String> template(Object pieces) {
        List<String> described = new ArrayList<>();
        for (Object piece : Json.array(pieces)) {
            Map<String, Object> entry = Json.object(piece);
            boolean special = entry.containsKey("SpecialToken");
            Map<String, Object> body = Json.object(entry.get(special ? "SpecialToken" : "Sequence"));
            described.add((special ? "S " : "Q ") + body.get("id") + " " + ((Number) body.get("type_id")).intValue());
        }
        return described;
    }

    /** BertProcessing's ["[CLS]", 101]: the id. */
    private static int tokenId(Object pair) {
        return ((Number) Json.array(pair).get(1)).intValue();
    }

    /** TemplateProcessing's special_tokens entry for `token`: its one id. */
    private static int templateId(Map<String, Object> tokens, String token) {
        List<Object> ids = Json.array(Json.object(tokens.get(token)).get("ids"));
        if (ids.size() != 1) {
            throw new IllegalArgumentException("tokenizer.json: special token " + token + " stands for " + ids.size()
                + " ids, not one");
        }
        return ((Number) ids.get(0)).intValue();
    }

    private static void requireType(String part, Map<String, Object> spec, String type) {
        if (!type.equals(spec.get("type"))) {
            throw new IllegalArgumentException("tokenizer.json: " + part + " type " + spec.get("type") + ", not "
                + type + " (this core reads BERT-style WordPiece tokenizers: bert, distilbert, electra)");
        }
    }

    /** The ids of a text pair and their token types (0 for the first text, 1 for the second). */
    public static final class Pair {
        public final int[] ids;
        public final int[] typeIds;

        Pair(int[] ids, int[] typeIds) {
            this.ids = ids;
            this.typeIds = typeIds;
        }
    }

    /** [CLS] pieces [SEP], at most maxLength ids. */
    public int[] encode(String text, int maxLength) {
        List<Integer> pieces = pieces(text);
        int kept = Math.min(pieces.size(), Math.max(maxLength - 2, 0));
        int[] ids = new int[kept + 2];
        ids[0] = clsId;
        for (int i = 0; i < kept; i++) {
            ids[i + 1] = pieces.get(i);
        }
        ids[kept + 1] = sepId;
        return ids;
    }

    /**
     * [CLS] a [SEP] b [SEP], at most maxLength ids, cut as the tokenizers library's longest-first truncation
     * cuts a pair: when both do not fit, a shorter side that fits in half the room is kept whole and the longer
     * side gets the rest; otherwise each gets half, the longer (on a tie the second) the odd one.
     */
    public Pair encodePair(String text, String textPair, int maxLength) {
        List<Integer> first = pieces(text);
        List<Integer> second = pieces(textPair);
        int room = Math.max(maxLength - 3, 0);
        int[] kept = pairLengths(first.size(), second.size(), room);
        int[] ids = new int[kept[0] + kept[1] + 3];
        int[] types = new int[ids.length];
        int at = 0;
        ids[at++] = clsId;
        for (int i = 0; i < kept[0]; i++) {
            ids[at++] = first.get(i);
        }
        ids[at++] = sepId;
        int secondStart = at;
        for (int i = 0; i < kept[1]; i++) {
            ids[at++] = second.get(i);
        }
        ids[at] = sepId;
        Arrays.fill(types, secondStart, ids.length, 1);
        return new Pair(ids, types);
    }

    /** How many pieces of each side a pair keeps in `room` (tokenizers' TruncationStrategy::LongestFirst). */
    static int[] pairLengths(int a, int b, int room) {
        if (a + b <= room) {
            return new int[] {a, b};
        }
        boolean swap = a > b;
        int shorter = Math.min(a, b);
        int longer = shorter > room ? shorter : Math.max(shorter, room - shorter);
        if (shorter + longer > room) {
            shorter = room / 2;
            longer = shorter + room % 2;
        }
        return swap ? new int[] {longer, shorter} : new int[] {shorter, longer};
    }

    /** The WordPiece ids of a text, before special tokens and truncation. */
    private List<Integer> pieces(String text) {
        List<Integer> pieces = new ArrayList<>();
        for (String part : splitOnAddedTokens(text)) {
            if (addedTokens.contains(part)) {
                pieces.add(vocab.get(part));
                continue;
            }
            for (String word : preTokenize(normalize(part))) {
                wordPiece(word, pieces);
            }
        }
        return pieces;
    }

    /** The text cut around special tokens written in it (leftmost match, longest first at a position). */
    private List<String> splitOnAddedTokens(String text) {
        List<String> parts = new ArrayList<>();
        int start = 0;
        int i = 0;
        while (i < text.length()) {
            String match = null;
            for (String token : addedTokens) {
                if (text.startsWith(token, i) && (match == null || token.length() > match.length())) {
                    match = token;
                }
            }
            if (match == null) {
                i++;
                continue;
            }
            if (i > start) {
                parts.add(text.substring(start, i));
            }
            parts.add(match);
            i += match.length();
            start = i;
        }
        if (start < text.length()) {
            parts.add(text.substring(start));
        }
        return parts;
    }

    // BertNormalizer: clean text, then CJK spacing, then accents (NFD, drop Mn), then per-character lower case.
    private String normalize(String text) {
        StringBuilder out = new StringBuilder();
        text.codePoints().forEach(cp -> {
            if (cleanText && (cp == 0 || cp == 0xFFFD || isControl(cp))) {
                return;
            }
            if (cleanText && isWhitespace(cp)) {
                out.append(' ');
            } else if (splitChinese && isChinese(cp)) {
                out.append(' ').appendCodePoint(cp).append(' ');
            } else {
                out.appendCodePoint(cp);
            }
        });
        String result = out.toString();
        if (stripAccents) {
            StringBuilder bare = new StringBuilder();
            Normalizer.normalize(result, Normalizer.Form.NFD).codePoints()
                .filter(cp -> Character.getType(cp) != Character.NON_SPACING_MARK)
                .forEach(bare::appendCodePoint);
            result = bare.toString();
        }
        if (lowercase) {
            StringBuilder lower = new StringBuilder();
            // one code point at a time, like Rust's char::to_lowercase (no context rules such as final sigma)
            result.codePoints().forEach(cp -> lower.append(new String(Character.toChars(cp)).toLowerCase(Locale.ROOT)));
            result = lower.toString();
        }
        return result;
    }

    // BertPreTokenizer: whitespace separates words and is dropped; each punctuation character is a word.
    private List<String> preTokenize(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        text.codePoints().forEach(cp -> {
            if (isWhitespace(cp) || isPunctuation(cp)) {
                if (word.length() > 0) {
                    words.add(word.toString());
                    word.setLength(0);
                }
                if (isPunctuation(cp)) {
                    words.add(new String(Character.toChars(cp)));
                }
            } else {
                word.appendCodePoint(cp);
            }
        });
        if (word.length() > 0) {
            words.add(word.toString());
        }
        return words;
    }

    private void wordPiece(String word, List<Integer> out) {
        int[] cps = word.codePoints().toArray();
        if (cps.length > maxCharsPerWord) {
            out.add(vocab.get(unkToken));
            return;
        }
        List<Integer> pieces = new ArrayList<>();
        int start = 0;
        while (start < cps.length) {
            Integer found = null;
            int end = cps.length;
            while (end > start) {
                String piece = new String(cps, start, end - start);
                Integer id = vocab.get(start > 0 ? prefix + piece : piece);
                if (id != null) {
                    found = id;
                    break;
                }
                end--;
            }
            if (found == null) {  // a word with any unmatched part is one [UNK]
                out.add(vocab.get(unkToken));
                return;
            }
            pieces.add(found);
            start = end;
        }
        out.addAll(pieces);
    }

    // Rust's char::is_whitespace (Unicode White_Space) for what survives clean-up: \t \n \r and separators.
    private static boolean isWhitespace(int cp) {
        return cp == '\t' || cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x85
            || Character.isSpaceChar(cp);
    }

    // unicode_categories' is_other as tokenizers applies it: Cc, Cf, Co, Cs; tab, newline and carriage return are
    // whitespace instead. Not Cn: tokenizers keeps an unassigned code point (U+0378 -> [UNK]), and so must this,
    // also for a character newer than the JVM's tables (an emoji of a later Unicode than the device knows).
    private static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        int type = Character.getType(cp);
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.PRIVATE_USE
            || type == Character.SURROGATE;
    }

    // ASCII punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~) or any Unicode P* category.
    private static boolean isPunctuation(int cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
            return true;
        }
        int type = Character.getType(cp);
        return type == Character.CONNECTOR_PUNCTUATION || type == Character.DASH_PUNCTUATION
            || type == Character.START_PUNCTUATION || type == Character.END_PUNCTUATION
            || type == Character.INITIAL_QUOTE_PUNCTUATION || type == Character.FINAL_QUOTE_PUNCTUATION
            || type == Character.OTHER_PUNCTUATION;
    }

    // The CJK Unified Ideograph blocks BERT splits into single characters.
    private static boolean isChinese(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
            || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F)
            || (cp >= 0x2B920 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF)
            || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
