using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Hub;
using LlamaNas.Core.Project;
using LlamaNas.TestSupport;

namespace LlamaNas.Core.Tests.Hub;

/// <summary>Hub ids resolved through the huggingface_hub cache layout, against a fake hub on loopback.</summary>
public sealed class HubModelsTests
{
    [Theory]
    [InlineData("karpathy/stories260K", "karpathy/stories260K", "main")]
    [InlineData("org/name@v1.0", "org/name", "v1.0")]
    [InlineData("org/name@refs/pr/1", "org/name", "refs/pr/1")]
    public void Hub_ids_parse_into_repository_and_revision(string text, string repo, string revision)
    {
        Assert.True(HubReference.TryParse(text, out var reference));
        Assert.Equal(new HubReference(repo, revision), reference);
    }

    [Theory]
    [InlineData("model")]
    [InlineData("/abs/path/model")]
    [InlineData("./models/x")]
    [InlineData("a/b/c")]
    [InlineData("org/name@")]
    public void Local_paths_are_not_hub_ids(string text) => Assert.False(HubReference.TryParse(text, out _));

    [Fact]
    public void A_download_fills_the_standard_cache_layout_and_an_offline_resolve_reuses_it_without_a_request()
    {
        using var hub = new FakeHub();
        using var dir = new TempDir();
        var lines = new List<string>();
        var model = Resolve(hub, dir, lines.Add);

        var repo = Path.Combine(dir.Path, "models--karpathy--stories260K");
        Assert.Equal(Path.Combine(repo, "snapshots", FakeHub.Commit), model.Directory);
        Assert.Equal($"hf:{FakeHub.Repo}@{FakeHub.Commit}", model.Key);
        Assert.Equal(FakeHub.Commit, File.ReadAllText(Path.Combine(repo, "refs", "main")));
        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json" })
        {
            var link = new FileInfo(Path.Combine(model.Directory, file));
            Assert.StartsWith("../../blobs/", link.LinkTarget, StringComparison.Ordinal);
            Assert.Equal(File.ReadAllBytes(Path.Combine(SharedData.Stories260K, file)), File.ReadAllBytes(link.FullName));
        }

        // The safetensors blob is named by its SHA-256, as huggingface_hub names LFS blobs.
        Assert.True(File.Exists(Path.Combine(repo, "blobs", FakeHub.Sha256(hub.Weights))));
        Assert.Contains(lines, l => l.Contains("model.safetensors 100%", StringComparison.Ordinal));

        var before = hub.Requests.Count;
        var offline = Resolve(hub, dir, offline: true);
        Assert.Equal(model, offline);
        Assert.Equal(before, hub.Requests.Count);

        // Online again: the files are there, so only the revision is asked for.
        Resolve(hub, dir);
        Assert.Equal([$"GET /api/models/{FakeHub.Repo}/revision/main"], hub.Requests.Skip(before));

        // Pinned to the commit: nothing to ask.
        using var models = new HubModels(new HubSettings { Endpoint = hub.Endpoint, CacheDirectory = dir.Path });
        Assert.Equal(model.Directory, models.Resolve(new HubReference(FakeHub.Repo, FakeHub.Commit)).Directory);
        Assert.Equal(before + 1, hub.Requests.Count);
    }

    [Fact]
    public void Offline_without_a_cached_snapshot_is_a_coded_error()
    {
        using var hub = new FakeHub();
        using var dir = new TempDir();
        var e = Assert.Throws<LlamaNasException>(() => Resolve(hub, dir, offline: true));
        Assert.Equal(DiagnosticCodes.HubOfflineNotCached, e.Code);
        Assert.Contains("HF_HUB_OFFLINE", e.Message, StringComparison.Ordinal);
        Assert.Empty(hub.Requests);
    }

    [Fact]
    public void A_partial_download_resumes_where_it_stopped()
    {
        using var hub = new FakeHub();
        using var dir = new TempDir();
        var sha = FakeHub.Sha256(hub.Weights);
        var half = hub.Weights.Length / 2;
        var blobs = Directory.CreateDirectory(Path.Combine(dir.Path, "models--karpathy--stories260K", "blobs")).FullName;
        File.WriteAllBytes(Path.Combine(blobs, sha + ".incomplete"), hub.Weights[..half]);

        var lines = new List<string>();
        var model = Resolve(hub, dir, lines.Add);

        Assert.Contains($"GET /cdn/{sha} bytes={half}-", hub.Requests);
        Assert.Contains(lines, l => l.Contains("resuming model.safetensors", StringComparison.Ordinal));
        Assert.Equal(hub.Weights, File.ReadAllBytes(Path.Combine(model.Directory, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(blobs, sha + ".incomplete")));
    }

    [Fact]
    public void A_download_that_does_not_match_its_hash_is_deleted_and_reported()
    {
        using var hub = new FakeHub();
        using var dir = new TempDir();
        var bad = hub.Weights.ToArray();
        bad[100] ^= 0xFF;
        hub.ServedWeights = bad;

        var e = Assert.Throws<LlamaNasException>(() => Resolve(hub, dir));
        Assert.Equal(DiagnosticCodes.HubHashMismatch, e.Code);
        Assert.Contains("model.safetensors", e.Message, StringComparison.Ordinal);
        var repo = Path.Combine(dir.Path, "models--karpathy--stories260K");
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(repo, "blobs")), f => f.Contains(FakeHub.Sha256(hub.Weights), StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(repo, "snapshots", FakeHub.Commit, "model.safetensors")));
    }

    [Fact]
    public void A_gated_model_without_a_token_says_to_set_HF_TOKEN_and_downloads_with_one()
    {
        using var hub = new FakeHub { RequiredToken = "hf_test_token" };
        using var dir = new TempDir();

        var e = Assert.Throws<LlamaNasException>(() => Resolve(hub, dir));
        Assert.Equal(DiagnosticCodes.HubUnauthorized, e.Code);
        Assert.Contains("HF_TOKEN", e.Message, StringComparison.Ordinal);
        Assert.Contains("gated", e.Message, StringComparison.Ordinal);

        var model = Resolve(hub, dir, token: "hf_test_token");
        Assert.Equal(hub.Weights, File.ReadAllBytes(Path.Combine(model.Directory, "model.safetensors")));
    }

    [Fact]
    public void A_sharded_checkpoint_is_fetched_through_its_index_and_pickle_only_repositories_are_refused()
    {
        var files = FakeHub.Stories();
        var weights = files["model.safetensors"];
        files.Remove("model.safetensors");
        files["model-00001-of-00002.safetensors"] = weights[..1000];
        files["model-00002-of-00002.safetensors"] = weights[1000..];
        files["model.safetensors.index.json"] = System.Text.Encoding.UTF8.GetBytes("""
            {"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}
            """);
        files["pytorch_model.bin"] = [1, 2, 3];
        using (var hub = new FakeHub(files))
        using (var dir = new TempDir())
        {
            var model = Resolve(hub, dir);
            Assert.Equal(
                ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.model", "tokenizer_config.json"],
                Directory.GetFiles(model.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Equal(weights[1000..], File.ReadAllBytes(Path.Combine(model.Directory, "model-00002-of-00002.safetensors")));

            // Complete through its index: usable offline.
            Assert.Equal(model, Resolve(hub, dir, offline: true));
        }

        var pickles = FakeHub.Stories();
        pickles.Remove("model.safetensors");
        pickles["pytorch_model.bin"] = [1, 2, 3];
        using (var hub = new FakeHub(pickles))
        using (var dir = new TempDir())
        {
            var e = Assert.Throws<LlamaNasException>(() => Resolve(hub, dir));
            Assert.Equal(DiagnosticCodes.HubNoSafetensors, e.Code);
            Assert.Contains("pickle", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(hub.Requests, r => r.Contains(".bin", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void A_nasproj_BaseModel_may_be_a_hub_id_keyed_by_its_commit()
    {
        using var hub = new FakeHub();
        using var dir = new TempDir();
        dir.Write("held.txt", "A story.\n");
        var project = dir.Write("p.nasproj", $"""
            <Project Sdk="LlamaNas.Sdk/0.1.0">
              <PropertyGroup>
                <BaseModel>{FakeHub.Repo}</BaseModel>
                <HeldOutText>held.txt</HeldOutText>
                <FineTune>false</FineTune>
              </PropertyGroup>
            </Project>
            """);

        // The project reads HF_ENDPOINT / HF_HUB_CACHE / HF_HUB_OFFLINE like huggingface_hub; this class alone sets them.
        var saved = new[] { "HF_ENDPOINT", "HF_HUB_CACHE", "HF_HUB_OFFLINE" }.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable("HF_ENDPOINT", hub.Endpoint);
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", dir.File("hub"));
            Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", null);
            var lines = new List<string>();
            var p = NasProject.Read(project, progress: lines.Add);
            Assert.Equal(Path.Combine(dir.Path, "hub", "models--karpathy--stories260K", "snapshots", FakeHub.Commit), p.BaseModel);
            Assert.Equal($"hf:{FakeHub.Repo}@{FakeHub.Commit}", p.BaseModelHub!.Key);
            Assert.Equal(5, p.BaseConfig.NumHiddenLayers);
            Assert.NotEmpty(lines);

            // Offline with an empty cache: a coded error at the BaseModel line.
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", dir.File("empty"));
            Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
            var e = Assert.Throws<LlamaNasException>(() => NasProject.Read(project));
            Assert.Equal((DiagnosticCodes.HubOfflineNotCached, 3), (e.Code, e.Diagnostic.Location!.Line));
        }
        finally
        {
            foreach (var (name, value) in saved)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }
    }

    private static HubModel Resolve(FakeHub hub, TempDir cache, Action<string>? progress = null, bool offline = false, string? token = null)
    {
        using var models = new HubModels(new HubSettings { Endpoint = hub.Endpoint, CacheDirectory = cache.Path, Offline = offline, Token = token }, progress);
        return models.Resolve(new HubReference(FakeHub.Repo, HubReference.DefaultRevision));
    }
}
