package org.bertedge.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import org.junit.Test;

/** The comparison rule shared with runtime_py/parity.py, on hand-made rows whose answers are known. */
public class ParityTest {
    @Test
    public void cosineAndSoftmax() {
        assertEquals(1.0, Parity.cosine(new double[] {1, 2}, new double[] {2, 4}), 1e-12);
        assertEquals(0.0, Parity.cosine(new double[] {1, 0}, new double[] {0, 3}), 1e-12);
        assertEquals(-1.0, Parity.cosine(new double[] {1, 1}, new double[] {-1, -1}), 1e-12);
        assertEquals(0.0, Parity.cosine(new double[] {0, 0}, new double[] {1, 1}), 0.0);  // no division by zero
        assertArrayEquals(new double[] {0.5, 0.5}, Parity.softmax(new double[] {1000, 1000}), 1e-12);
        double[] p = Parity.softmax(new double[] {Math.log(3), 0});
        assertArrayEquals(new double[] {0.75, 0.25}, p, 1e-12);
    }

    @Test
    public void embeddersCountEveryRow() {
        double[][] reference = {{1, 0}, {0, 1}};
        float[][] outputs = {{1, 0}, {1, 1}};
        Parity parity = Parity.agreement(outputs, reference, false);
        assertEquals(Math.sqrt(0.5), parity.minCosine, 1e-9);
        assertEquals(1.0, parity.maxAbsDiff, 0.0);
        assertNull(parity.top1Agreement);
        assertEquals(0, parity.undecided);
        assertEquals(Collections.emptyList(), parity.failures(0.7, 0.0));
        assertEquals(Collections.singletonList("min cosine 0.7071 < 0.8"), parity.failures(0.8, 0.0));
    }

    @Test
    public void nanOutputsFail() {
        double[][] reference = {{1, 0}, {0, 1}};
        float[][] outputs = {{1, 0}, {Float.NaN, 1}};
        Parity parity = Parity.agreement(outputs, reference, false);
        assertEquals(Collections.singletonList("min cosine NaN < 0.5"), parity.failures(0.5, 0.0));
    }

    @Test
    public void classifierProbesCloserThanTheDecidedMarginAreLeftOut() {
        // probabilities 0.88 / 0.12 (gap 0.76, decided) and 0.62 / 0.38 (gap 0.24 < DECIDED_MARGIN, left out)
        double[][] reference = {{2, 0}, {0.5, 0}};
        float[][] flippedUndecided = {{2, 0}, {0, 0.5f}};
        Parity parity = Parity.agreement(flippedUndecided, reference, true);
        assertEquals(1, parity.undecided);
        assertEquals(1.0, parity.top1Agreement, 0.0);
        assertEquals(1.0, parity.minCosine, 1e-12);
        assertEquals(0.5, parity.maxAbsDiff, 0.0);  // still measured on every row
    }

    @Test
    public void aFlippedDecidedProbeFailsTheAgreement() {
        double[][] reference = {{2, 0}, {0, 2}};
        float[][] outputs = {{2, 0}, {2, 0}};
        Parity parity = Parity.agreement(outputs, reference, true);
        assertEquals(0.5, parity.top1Agreement, 0.0);
        assertEquals(Arrays.asList("min cosine 0.0000 < 0.9", "top-1 agreement 0.500 < 1.0"),
            parity.failures(0.9, 1.0));
    }

    @Test
    public void whenNoProbeIsDecidedAllCount() {
        double[][] reference = {{0.1, 0}, {0, 0.1}};
        float[][] outputs = {{0, 0.1f}, {0, 0.1f}};
        Parity parity = Parity.agreement(outputs, reference, true);
        assertEquals(0, parity.undecided);
        assertEquals(0.5, parity.top1Agreement, 0.0);
        assertTrue(Parity.DECIDED_MARGIN > 0.05);
    }

    @Test
    public void oneOutputModelsAreComparedByTheColumnsConcordance() {
        double[][] reference = {{0.1}, {0.5}, {0.9}};
        Parity moved = Parity.agreement(new float[][] {{0.12f}, {0.52f}, {0.91f}}, reference, true);
        assertEquals(0.9986, moved.minCosine, 1e-4);
        assertEquals(null, moved.top1Agreement);  // one output: no label to agree on
        Parity reversed = Parity.agreement(new float[][] {{0.9f}, {0.5f}, {0.1f}}, reference, true);
        assertEquals(-1.0, reversed.minCosine, 1e-6);
        assertEquals(Collections.singletonList("score concordance -1.0000 < 0.5"), reversed.failures(0.5, 0.0));
        // in step with the reference, but shifted by 0.5 (a lost bias) or at a fifth of its scale: Pearson's 1
        Parity shifted = Parity.agreement(new float[][] {{0.6f}, {1.0f}, {1.4f}}, reference, true);
        assertEquals(0.4604, shifted.minCosine, 1e-4);
        Parity scaled = Parity.agreement(new float[][] {{0.42f}, {0.5f}, {0.58f}}, reference, true);
        assertEquals(0.3846, scaled.minCosine, 1e-4);
        // constant columns: a float 0.3 against a double 0.3 agrees, 0.4 does not
        double[][] constant = {{0.3}, {0.3}};
        assertEquals(1.0, Parity.agreement(new float[][] {{0.3f}, {0.3f}}, constant, true).minCosine, 0.0);
        assertEquals(0.0, Parity.agreement(new float[][] {{0.4f}, {0.4f}}, constant, true).minCosine, 0.0);
    }
}
