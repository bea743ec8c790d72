package org.bertedge.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Checks a parsed JSON value against a JSON Schema, for the keywords runtime_py/bundle.schema.json uses: type,
 * const, enum, required, properties, additionalProperties, minProperties, items, minItems, minimum, maximum,
 * minLength, pattern and local $ref. Written here because the tests build with javac and Debian's JUnit jar only (no Maven, so no
 * schema library); Python's side checks the same file with the jsonschema package.
 */
final class SchemaCheck {
    private final Map<String, Object> root;

    SchemaCheck(Map<String, Object> root) {
        this.root = root;
    }

    /** Every way `value` breaks the schema, as "path: problem" (empty: it conforms). */
    List<String> errors(Object value) {
        List<String> out = new ArrayList<>();
        check(root, value, "$", out);
        return out;
    }

    @SuppressWarnings("unchecked")
    private void check(Map<String, Object> schema, Object value, String path, List<String> out) {
        if (schema.containsKey("$ref")) {
            String ref = (String) schema.get("$ref");
            Map<String, Object> target = root;
            for (String part : ref.substring(2).split("/")) {
                target = (Map<String, Object>) target.get(part);
            }
            check(target, value, path, out);
            return;
        }
        if (schema.containsKey("const") && !same(schema.get("const"), value)) {
            out.add(path + ": is not " + schema.get("const"));
        }
        if (schema.containsKey("enum") && ((List<Object>) schema.get("enum")).stream().noneMatch(e -> same(e, value))) {
            out.add(path + ": " + value + " is not one of " + schema.get("enum"));
        }
        if (schema.containsKey("type") && !hasType(schema.get("type"), value)) {
            out.add(path + ": is not of type " + schema.get("type"));
            return;
        }
        if (value instanceof Map) {
            checkObject(schema, (Map<String, Object>) value, path, out);
        } else if (value instanceof List) {
            List<Object> items = (List<Object>) value;
            if (schema.containsKey("minItems") && items.size() < ((Number) schema.get("minItems")).intValue()) {
                out.add(path + ": fewer than " + schema.get("minItems") + " items");
            }
            if (schema.containsKey("items")) {
                for (int i = 0; i < items.size(); i++) {
                    check((Map<String, Object>) schema.get("items"), items.get(i), path + "[" + i + "]", out);
                }
            }
        } else if (value instanceof Number) {
            double number = ((Number) value).doubleValue();
            if (schema.containsKey("minimum") && number < ((Number) schema.get("minimum")).doubleValue()) {
                out.add(path + ": below " + schema.get("minimum"));
            }
            if (schema.containsKey("maximum") && number > ((Number) schema.get("maximum")).doubleValue()) {
                out.add(path + ": above " + schema.get("maximum"));
            }
        } else if (value instanceof String) {
            String text = (String) value;
            if (schema.containsKey("minLength") && text.length() < ((Number) schema.get("minLength")).intValue()) {
                out.add(path + ": shorter than " + schema.get("minLength"));
            }
            if (schema.containsKey("pattern") && !Pattern.compile((String) schema.get("pattern")).matcher(text).find()) {
                out.add(path + ": does not match " + schema.get("pattern"));
            }
        }
    }

    @SuppressWarnings("unchecked")
    private void checkObject(Map<String, Object> schema, Map<String, Object> value, String path, List<String> out) {
        for (Object name : (List<Object>) schema.getOrDefault("required", new ArrayList<>())) {
            if (!value.containsKey(name)) {
                out.add(path + ": missing " + name);
            }
        }
        if (schema.containsKey("minProperties") && value.size() < ((Number) schema.get("minProperties")).intValue()) {
            out.add(path + ": fewer than " + schema.get("minProperties") + " properties");
        }
        Map<String, Object> properties = (Map<String, Object>) schema.getOrDefault("properties", Map.of());
        Object additional = schema.get("additionalProperties");
        for (Map.Entry<String, Object> entry : value.entrySet()) {
            String child = path + "." + entry.getKey();
            if (properties.containsKey(entry.getKey())) {
                check((Map<String, Object>) properties.get(entry.getKey()), entry.getValue(), child, out);
            } else if (Boolean.FALSE.equals(additional)) {
                out.add(child + ": not allowed");
            } else if (additional instanceof Map) {
                check((Map<String, Object>) additional, entry.getValue(), child, out);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static boolean hasType(Object type, Object value) {
        if (type instanceof List) {
            return ((List<Object>) type).stream().anyMatch(t -> hasType(t, value));
        }
        switch ((String) type) {
            case "object": return value instanceof Map;
            case "array": return value instanceof List;
            case "string": return value instanceof String;
            case "boolean": return value instanceof Boolean;
            case "null": return value == null;
            case "number": return value instanceof Number;
            case "integer": return value instanceof Number && ((Number) value).doubleValue() % 1 == 0;
            default: throw new IllegalArgumentException("schema type " + type + " is not one SchemaCheck knows");
        }
    }

    private static boolean same(Object a, Object b) {
        if (a instanceof Number && b instanceof Number) {
            return ((Number) a).doubleValue() == ((Number) b).doubleValue();
        }
        return a == null ? b == null : a.equals(b);
    }
}
