package org.bertedge.demo;

import android.app.Activity;
import android.content.res.AssetManager;
import android.os.Bundle;
import android.view.View;
import android.widget.Button;
import android.widget.EditText;
import android.widget.TextView;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.bertedge.core.Demo;
import org.bertedge.core.EdgeModel;
import org.bertedge.core.SelfCheck;

/**
 * A thin shell around org.bertedge.core: copy the bundle out of the APK's assets, load it, run its golden
 * self-check, then answer each text the user types. All model work runs on one background thread, which also
 * closes the model (after whatever call is under way: ORT's close does not wait for a run). Rotation keeps the
 * Activity (AndroidManifest.xml's configChanges); other changes (dark mode, font scale, locale) recreate it, which
 * closes the model and loads it again.
 */
public class MainActivity extends Activity {
    private static final Object COPYING = new Object();  // one copy at a time, should two Activities overlap
    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private EdgeModel model;
    private Demo demo;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        TextView status = findViewById(R.id.status);
        Button run = findViewById(R.id.run);
        worker.execute(() -> {
            String message;
            try {
                File folder = copyAssets("bundle", new File(getFilesDir(), "bundle"));
                model = EdgeModel.load(folder.toPath(), 0);
                SelfCheck check = SelfCheck.run(model);
                demo = new Demo(model, readSentences());
                message = String.format(Locale.ROOT, "%s bundle · self-check %s (%d probes, %s %.4f)%s",
                    model.manifest.task, check.passed() ? "PASSED" : "FAILED", check.probes,
                    check.parity.measure, check.parity.minCosine, check.passed() ? "" : "\n" + String.join("\n", check.failures));
            } catch (Throwable e) {  // an Error too (an unsupported ABI's UnsatisfiedLinkError, memory): said on screen
                message = "Cannot load the bundle: " + e.getMessage();
            }
            String shown = message;
            runOnUiThread(() -> {
                status.setText(shown);
                run.setEnabled(demo != null);
            });
        });
        run.setOnClickListener(this::onRun);
    }

    private void onRun(View view) {
        String text = ((EditText) findViewById(R.id.input)).getText().toString();
        TextView headline = findViewById(R.id.headline);
        TextView details = findViewById(R.id.details);
        worker.execute(() -> {
            String title;
            String body;
            try {
                Demo.Answer answer = demo.ask(text);
                title = answer.headline;
                body = String.join("\n", answer.lines)
                    + String.format(Locale.ROOT, "%sinference %.1f ms", answer.lines.isEmpty() ? "" : "\n\n",
                        answer.millis);
            } catch (Throwable e) {  // an Error too, or it would end the process unseen
                title = "Error";
                body = String.valueOf(e.getMessage());
            }
            String shownTitle = title;
            String shownBody = body;
            runOnUiThread(() -> {
                headline.setText(shownTitle);
                details.setText(shownBody);
            });
        });
    }

    /** The core reads bundles from files: copy assets/NAME/* there once per installed APK (a partial copy fails
     * the manifest's sha256 checks, which then say so on screen). */
    private File copyAssets(String name, File target) throws Exception {
        synchronized (COPYING) {
            return copyAssetsOnce(name, target);
        }
    }

    private File copyAssetsOnce(String name, File target) throws Exception {
        AssetManager assets = getAssets();
        long installed = getPackageManager().getPackageInfo(getPackageName(), 0).lastUpdateTime;
        File stamp = new File(target, ".copied-" + installed);
        if (stamp.isFile()) {
            return target;
        }
        copyTree(assets, name, target);
        stamp.createNewFile();
        return target;
    }

    /** bundle.json may list files in subfolders (both readers take "a/b.json"): the asset tree is copied whole. */
    private static void copyTree(AssetManager assets, String path, File target) throws IOException {
        String[] children = assets.list(path);
        if (children == null || children.length == 0) {  // a file (aapt leaves no empty folders)
            try (InputStream in = assets.open(path)) {
                Files.copy(in, target.toPath(), StandardCopyOption.REPLACE_EXISTING);
            }
            return;
        }
        target.mkdirs();
        for (String child : children) {
            copyTree(assets, path + "/" + child, new File(target, child));
        }
    }

    private List<String> readSentences() throws IOException {
        List<String> sentences = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(getAssets().open("sentences.txt"), StandardCharsets.UTF_8))) {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (!line.trim().isEmpty()) {
                    sentences.add(line.trim());
                }
            }
        }
        return sentences;
    }

    @Override
    protected void onDestroy() {
        // on the worker, after the load or the run in progress: a model still loading is closed too
        worker.execute(() -> {
            try {
                if (model != null) {
                    model.close();
                }
            } catch (Exception ignored) {
                // nothing left to show it on
            }
        });
        worker.shutdown();
        super.onDestroy();
    }
}
