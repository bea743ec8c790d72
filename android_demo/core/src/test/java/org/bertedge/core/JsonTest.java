package org.bertedge.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {
    @Test
    public void objectsKeepTheirKeyOrderAndValueTypes() {
        Map<String, Object> doc = Json.object(Json.parse(
            " {\"b\": 1, \"a\": [2.5, -3e2, true, false, null], \"c\": {\"d\": \"x\"}} "));
        assertEquals(Arrays.asList("b", "a", "c"), Arrays.asList(doc.keySet().toArray()));
        assertEquals(1L, doc.get("b"));  // integral numbers are Longs, the rest Doubles
        List<Object> a = Json.array(doc.get("a"));
        assertEquals(2.5, a.get(0));
        assertEquals(-300.0, a.get(1));
        assertEquals(Boolean.TRUE, a.get(2));
        assertEquals(Boolean.FALSE, a.get(3));
        assertNull(a.get(4));
        assertEquals("x", Json.object(doc.get("c")).get("d"));
    }

    @Test
    public void stringEscapesDecodeAsJsonDefinesThem() {
        assertEquals("q\" b\\ s/ \b\f\n\r\t é ☃", Json.parse("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 \\u2603\""));
        // a character outside the BMP arrives as a surrogate pair and stays one
        assertEquals("\uD83C\uDF89", Json.parse("\"\\ud83c\\udf89\""));
    }

    @Test
    public void emptyContainersAndNumberArrays() {
        assertTrue(Json.object(Json.parse("{}")).isEmpty());
        assertTrue(Json.array(Json.parse("[ ]")).isEmpty());
        assertArrayEquals(new double[] {1, -0.5, 2e-3}, Json.doubles(Json.parse("[1, -0.5, 2e-3]")), 0.0);
    }

    @Test
    public void malformedTextIsRefusedWithItsOffset() {
        assertEquals("JSON: trailing characters at offset 3",
            assertThrows(IllegalArgumentException.class, () -> Json.parse("{} x")).getMessage());
        assertEquals("JSON: unterminated string at offset 4",
            assertThrows(IllegalArgumentException.class, () -> Json.parse("\"abc")).getMessage());
        assertEquals("JSON: expected '}' at offset 8",
            assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": 1 ]")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> Json.parse(""));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[tru]"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("\"bad \\x escape\""));
        // these ended in StringIndexOutOfBoundsException and StackOverflowError, past every caller's catch
        assertEquals("JSON: unterminated string at offset 3",
            assertThrows(IllegalArgumentException.class, () -> Json.parse("\"a\\")).getMessage());
        assertEquals("JSON: unterminated \\u escape at offset 4",
            assertThrows(IllegalArgumentException.class, () -> Json.parse("\"a\\u00")).getMessage());
        StringBuilder deep = new StringBuilder();
        for (int i = 0; i < 20000; i++) {
            deep.append('[');
        }
        assertEquals("JSON: nested deeper than 512 at offset 512",
            assertThrows(IllegalArgumentException.class, () -> Json.parse(deep.toString())).getMessage());
    }

    @Test
    public void onlyJsonsOwnNumbersAndStringsAreRead() {
        // Python's json module (runtime_py) refuses each of these; the two runtimes read the same files alike
        for (String bad : new String[] {"+256", "0256", "-", "1.", ".5", "1e", "1e+", "--1", "1.2.3", "0x10", "NaN",
                                        "Infinity"}) {
            assertThrows(bad, IllegalArgumentException.class, () -> Json.parse("[" + bad + "]"));
        }
        assertEquals("JSON: control character in string at offset 3",
            assertThrows(IllegalArgumentException.class, () -> Json.parse("\"ab\ncd\"")).getMessage());
        assertEquals("JSON: bad \\u escape at offset 2",
            assertThrows(IllegalArgumentException.class, () -> Json.parse("\"a\\u00zz\"")).getMessage());
        assertArrayEquals(new double[] {0, -0.0, 10, 1.5e-7, 2E+3, 0.25},
            Json.doubles(Json.parse("[0, -0.0, 10, 1.5e-7, 2E+3, 0.25]")), 0.0);
    }
}
