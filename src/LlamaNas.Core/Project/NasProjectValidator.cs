using System.Globalization;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Evaluation.Tasks;
using LlamaNas.Core.Hub;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;

namespace LlamaNas.Core.Project;

/// <summary>
/// Turns a <see cref="NasProjectDocument"/> into a <see cref="NasProject"/>, collecting every problem (LNAS10xx,
/// with the file, line and column of the element at fault) and throwing them together, so one build shows them all.
/// Checks only what needs no weights: values, files, the base model's config, the search space against it, the
/// task's data and that the smallest sub-network fits the size budget.
/// </summary>
internal sealed class NasProjectValidator
{
    private readonly NasProjectDocument _doc;
    private readonly List<Diagnostic> _errors = [];
    private readonly List<Diagnostic> _warnings = [];
    private readonly Dictionary<string, DiagnosticLocation> _locations = new(StringComparer.Ordinal);
    private readonly HashSet<string> _invalid = new(StringComparer.Ordinal);

    private readonly Action<string>? _progress;

    private NasProjectValidator(NasProjectDocument doc, Action<string>? progress) => (_doc, _progress) = (doc, progress);

    private string Directory => Path.GetDirectoryName(_doc.Path)!;

    /// <param name="progress">Where a hub download reports (a BaseModel named by a hub id).</param>
    public static NasProject Validate(NasProjectDocument doc, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(doc);
        var v = new NasProjectValidator(doc, progress);
        var project = v.Build();
        if (v._errors.Count > 0 || project is null)
        {
            // Errors first (the exception's code is the first error's), each group in file order.
            throw new LlamaNasException([.. InFileOrder(v._errors), .. InFileOrder(v._warnings)]);
        }

        return project with { Warnings = v._warnings, Locations = v._locations };
    }

    private static IEnumerable<Diagnostic> InFileOrder(IEnumerable<Diagnostic> diagnostics) =>
        diagnostics.OrderBy(d => d.Location?.Line ?? 0).ThenBy(d => d.Location?.Column ?? 0);

    private NasProject? Build()
    {
        CheckNames();
        var (baseModel, hub) = BaseModel();
        var config = baseModel is null ? null : LoadConfig(baseModel);
        var (task, userTask) = TargetTask();
        var selfGenerated = Bool("SelfGeneratedData");
        var heldOut = OptionalPath("HeldOutText", directory: false);
        var dataDir = OptionalPath("TaskDataDirectory", directory: true);
        var training = TrainingData();
        var fineTune = Bool("FineTune");
        var dataKnown = !_invalid.Contains("SelfGeneratedData") && !_invalid.Contains("FineTune");
        if (selfGenerated && training.Count > 0)
        {
            Error(DiagnosticCodes.ProjectConflictingSettings, "SelfGeneratedData is true and TrainingData items are given; use one source of training data.", LocationOf(NasProjectSchema.TrainingDataItem));
        }

        if (dataKnown && !selfGenerated && fineTune && training.Count == 0 && !_doc.Items.Any(i => i.Type == NasProjectSchema.TrainingDataItem))
        {
            Error(DiagnosticCodes.ProjectPropertyRequired, "fine-tuning needs training data: add <TrainingData Include=\"…\" /> items, set SelfGeneratedData to true, or set FineTune to false.", _doc.RootLocation);
        }

        if (dataKnown && task == "perplexity" && heldOut is null && !selfGenerated && _doc.Property("HeldOutText") is null)
        {
            Error(DiagnosticCodes.ProjectPropertyRequired, "TargetTask perplexity needs a held-out text: set HeldOutText (or SelfGeneratedData to true).", LocationOf("TargetTask"));
        }

        if (NasProject.IsBuiltInTask(task) && dataDir is null)
        {
            Error(DiagnosticCodes.ProjectPropertyRequired, $"the built-in task {task} needs its data: set TaskDataDirectory to the folder of its files (docs/EVALUATION.md).", LocationOf("TargetTask"));
        }

        var quantization = Choice("Quantization");
        var gguf = Choice("GgufType");

        var evaluation = Choice("SearchEvaluation");
        var shared = OptionalPath("SearchSharedDirectory", directory: true, mustExist: false);
        if (evaluation != "local" && shared is null)
        {
            Error(DiagnosticCodes.ProjectPropertyRequired, $"SearchEvaluation {evaluation} needs SearchSharedDirectory: a folder the build and every worker can read and write (docs/SCALE-OUT.md).", LocationOf("SearchEvaluation"));
        }

        foreach (var required in evaluation == "kubernetes" ? new[] { "SearchKubernetesImage", "SearchKubernetesVolumeClaim" } : [])
        {
            if (Raw(required).Length == 0)
            {
                Error(DiagnosticCodes.ProjectPropertyRequired, $"SearchEvaluation kubernetes needs {required} (docs/SCALE-OUT.md).", LocationOf("SearchEvaluation"));
            }
        }

        var sizeBudget = Number("SizeBudget", min: double.Epsilon, max: 1);
        var maxBytes = OptionalLong("MaxModelBytes", min: 1);
        var space = Space(config);
        var project = new NasProject
        {
            ProjectFile = _doc.Path,
            BaseModel = baseModel ?? string.Empty,
            BaseModelHub = hub,
            BaseConfig = config!,
            TargetTask = task,
            UserTaskFile = userTask,
            HeldOutText = heldOut,
            TaskDataDirectory = dataDir,
            TaskLimit = OptionalInt("TaskLimit", min: 1),
            SizeBudget = sizeBudget,
            MaxModelBytes = maxBytes,
            Quantization = quantization,
            SpeedObjective = Choice("SpeedObjective"),
            GgufType = gguf != "auto" ? gguf : quantization == "int8" ? "q8_0" : "f16",
            SearchAlgorithm = Choice("SearchAlgorithm"),
            SearchEvaluations = Int("SearchEvaluations", min: 1),
            SearchPopulation = Int("SearchPopulation", min: 2),
            Seed = (ulong)Long("Seed", min: 0),
            ComputeDtype = Choice("ComputeDtype"),
            FineTune = fineTune,
            FineTuneStrategy = Choice("FineTuneStrategy"),
            FineTuneSteps = Int("FineTuneSteps", min: 1),
            FineTuneBatchSize = Int("FineTuneBatchSize", min: 1),
            FineTuneSequenceLength = Int("FineTuneSequenceLength", min: 2),
            FineTuneLearningRate = Number("FineTuneLearningRate", min: double.Epsilon, max: 10),
            FineTuneLoraRank = Int("FineTuneLoraRank", min: 0),
            FineTunePermute = Bool("FineTunePermute"),
            FineTuneDistill = Choice("FineTuneDistill"),
            FineTuneDistillTemperature = Number("FineTuneDistillTemperature", min: double.Epsilon, max: 100),
            FineTuneDistillAlpha = Number("FineTuneDistillAlpha", min: 0, max: 1),
            TrainingDataFormat = Choice("TrainingDataFormat"),
            TrainingData = training,
            SelfGeneratedData = selfGenerated,
            SelfGeneratedSamples = Int("SelfGeneratedSamples", min: 1),
            SelfGeneratedHeldOutSamples = Int("SelfGeneratedHeldOutSamples", min: 1),
            SelfGeneratedTokens = Int("SelfGeneratedTokens", min: 2),
            CacheDirectory = OptionalPath("LlamaNasCacheDirectory", directory: true, mustExist: false),
            ModelFolder = FolderName("LlamaNasModelFolder"),
            CacheFeeds = Feeds("LlamaNasCacheFeeds"),
            CacheMode = Choice("LlamaNasCacheMode"),
            CachePackageLimit = Long("LlamaNasCachePackageLimit", min: NasProject.MinimumCachePackageLimit),
            SearchEvaluation = evaluation,
            SearchWorkers = Int("SearchWorkers", min: 1),
            SearchSharedDirectory = shared,
            SearchWorkerCommand = Raw("SearchWorkerCommand"),
            SearchShardAttempts = Int("SearchShardAttempts", min: 1),
            SearchSlurmOptions = Raw("SearchSlurmOptions"),
            SearchKubernetesImage = Raw("SearchKubernetesImage"),
            SearchKubernetesNamespace = Raw("SearchKubernetesNamespace"),
            SearchKubernetesVolumeClaim = Raw("SearchKubernetesVolumeClaim"),
            SearchKubernetesMountPath = Raw("SearchKubernetesMountPath"),
            SearchKubernetesResources = Raw("SearchKubernetesResources"),
            Space = space ?? new SearchSpaceSpec { Depths = [1] },
        };
        if (config is not null && space is not null && _errors.Count == 0)
        {
            CheckTask(project);
            CheckBudget(project);
        }

        return config is null || space is null ? null : project;
    }

    /// <summary>LNAS1001 for a near-miss of a known name (a typo), LNAS1002 (warning) for any other name MSBuild alone uses.</summary>
    private void CheckNames()
    {
        var known = NasProjectSchema.Properties.Select(p => p.Name).ToList();
        foreach (var p in _doc.Properties)
        {
            _locations[p.Name] = p.Location;
            // MSBuild property names are case-insensitive.
            if (known.Contains(p.Name, StringComparer.OrdinalIgnoreCase) || NasProjectSchema.MsBuildProperties.Contains(p.Name) || p.Name.StartsWith('_'))
            {
                continue;
            }

            var suggestion = NasProjectSchema.Suggest(p.Name, known);
            if (suggestion is not null)
            {
                Error(DiagnosticCodes.ProjectUnknownProperty, $"unknown property '{p.Name}'; did you mean '{suggestion}'?", p.Location);
            }
            else if (!p.Name.StartsWith("LlamaNas", StringComparison.OrdinalIgnoreCase))
            {
                _warnings.Add(new Diagnostic(DiagnosticCodes.ProjectUnrecognizedProperty, DiagnosticSeverity.Warning, $"property '{p.Name}' is not a llamanas setting and is ignored by the build (settings: docs/NASPROJ.md; start MSBuild-only names with '_' to silence this).", p.Location));
            }
            else
            {
                Error(DiagnosticCodes.ProjectUnknownProperty, $"unknown property '{p.Name}' (llamanas settings: docs/NASPROJ.md).", p.Location);
            }
        }

        var itemTypes = new[] { NasProjectSchema.TrainingDataItem, NasProjectSchema.SearchDimensionItem };
        foreach (var i in _doc.Items.Where(i => !itemTypes.Contains(i.Type)))
        {
            if (NasProjectSchema.Suggest(i.Type, itemTypes) is { } s)
            {
                Error(DiagnosticCodes.ProjectUnknownItemType, $"unknown item type '{i.Type}'; did you mean '{s}'?", i.Location);
            }
        }

        if (!_doc.IsEvaluated)
        {
            foreach (var p in _doc.Properties.Where(p => p.Conditional))
            {
                Error(DiagnosticCodes.ProjectPropertyInvalid, $"'{p.Name}' has a Condition, which only MSBuild evaluates: build this project with dotnet build.", p.Location);
            }
        }
    }

    private string Raw(string name)
    {
        var p = _doc.Property(name);
        var value = p?.Value ?? NasProjectSchema.Find(name)!.Default;
        if (!_doc.IsEvaluated && value.Contains("$(", StringComparison.Ordinal))
        {
            value = Expand(value, p?.Location ?? _doc.FileLocation, name);
        }

        return value;
    }

    /// <summary>Outside MSBuild, <c>$(Name)</c> of the project's own properties and of MSBuildProjectDirectory/-Name.</summary>
    private string Expand(string value, DiagnosticLocation where, string name)
    {
        var result = new System.Text.StringBuilder();
        var i = 0;
        while (i < value.Length)
        {
            var start = value.IndexOf("$(", i, StringComparison.Ordinal);
            if (start < 0)
            {
                result.Append(value, i, value.Length - i);
                break;
            }

            var end = value.IndexOf(')', start);
            var reference = end < 0 ? string.Empty : value[(start + 2)..end];
            var replacement = reference switch
            {
                "MSBuildProjectDirectory" or "MSBuildThisFileDirectory" => Directory + (reference == "MSBuildThisFileDirectory" ? Path.DirectorySeparatorChar : string.Empty),
                "MSBuildProjectName" => Path.GetFileNameWithoutExtension(_doc.Path),
                _ when reference != name && _doc.Property(reference) is { Conditional: false } p && !p.Value.Contains("$(", StringComparison.Ordinal) => p.Value,
                _ => null,
            };
            if (replacement is null)
            {
                Error(DiagnosticCodes.ProjectPropertyInvalid, $"{name} refers to $({reference}), which llamanas build cannot evaluate; build with dotnet build, or write the value out.", where);
                return value;
            }

            result.Append(value, i, start - i).Append(replacement);
            i = end + 1;
        }

        return result.ToString();
    }

    private DiagnosticLocation LocationOf(string name) => _doc.Property(name)?.Location
        ?? _doc.Items.FirstOrDefault(i => i.Type == name)?.Location
        ?? _doc.RootLocation;

    private void Error(string code, string message, DiagnosticLocation where) => _errors.Add(new Diagnostic(code, DiagnosticSeverity.Error, message, where));

    /// <summary>LNAS1003; checks that depend on <paramref name="name"/> are skipped after it, so one mistake gives one error.</summary>
    private void Invalid(string name, string value, string expected, string? suggestion = null)
    {
        _invalid.Add(name);
        Error(DiagnosticCodes.ProjectPropertyInvalid, $"{name} is '{value}'; expected {expected}{(suggestion is null ? "." : $"; did you mean '{suggestion}'?")}", LocationOf(name));
    }

    private string Choice(string name)
    {
        var value = Raw(name);
        var choices = NasProjectSchema.Find(name)!.Choices!;
        var match = choices.FirstOrDefault(c => string.Equals(c, value, StringComparison.OrdinalIgnoreCase));
        if (match is null)
        {
            Invalid(name, value, $"one of {string.Join(", ", choices)}", NasProjectSchema.Suggest(value, choices));
            return NasProjectSchema.Find(name)!.Default;
        }

        return match;
    }

    private bool Bool(string name)
    {
        var value = Raw(name);
        if (bool.TryParse(value, out var b))
        {
            return b;
        }

        Invalid(name, value, "true or false");
        return false;
    }

    private long Long(string name, long min) => OptionalLong(name, min) ?? Fallback(name, min);

    private long Fallback(string name, long min)
    {
        Invalid(name, Raw(name), "a whole number");
        return min;
    }

    private long? OptionalLong(string name, long min)
    {
        var value = Raw(name);
        if (value.Length == 0)
        {
            return null;
        }

        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= min)
        {
            return n;
        }

        Invalid(name, value, NasProject.Invariant($"a whole number ≥ {min}"));
        return min;
    }

    private int Int(string name, int min) => (int)Math.Min(int.MaxValue, Long(name, min));

    private int? OptionalInt(string name, int min) => OptionalLong(name, min) is { } n ? (int)Math.Min(int.MaxValue, n) : null;

    private double Number(string name, double min, double max)
    {
        var value = Raw(name);
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x) && x >= min && x <= max)
        {
            return x;
        }

        Invalid(name, value, min == double.Epsilon ? NasProject.Invariant($"a number > 0 and ≤ {max}") : NasProject.Invariant($"a number in [{min}, {max}]"));
        return max;
    }

    /// <summary>A semicolon list; an entry with a scheme must be an http(s) URL (folders and source names are resolved by the build).</summary>
    private List<string> Feeds(string name)
    {
        var feeds = Raw(name).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        foreach (var feed in feeds.Where(f => f.Contains("://", StringComparison.Ordinal)))
        {
            if (!Uri.TryCreate(feed, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeFile))
            {
                Invalid(name, feed, "a folder, an http(s) feed URL or a NuGet.config source name");
            }
        }

        return feeds;
    }

    private string FolderName(string name)
    {
        var value = Raw(name);
        if (value.Length == 0 || value is "." or ".." || value.IndexOfAny([.. Path.GetInvalidFileNameChars(), '/', '\\']) >= 0)
        {
            Invalid(name, value, "a plain folder name");
            return "model";
        }

        return value;
    }

    private string? RequiredPath(string name, bool directory)
    {
        if (Raw(name).Length == 0)
        {
            Error(DiagnosticCodes.ProjectPropertyRequired, $"{name} is required: set it to the pre-trained model's folder (Hugging Face layout: config.json, safetensors weights, tokenizer files).", _doc.Property(name)?.Location ?? _doc.RootLocation);
            return null;
        }

        return OptionalPath(name, directory);
    }

    private string? OptionalPath(string name, bool directory, bool mustExist = true)
    {
        var value = Raw(name);
        if (value.Length == 0)
        {
            return null;
        }

        var full = Path.GetFullPath(value, Directory);
        if (mustExist && !(directory ? System.IO.Directory.Exists(full) : File.Exists(full)))
        {
            Error(DiagnosticCodes.ProjectFileNotFound, $"{name}: {(directory ? "folder" : "file")} '{value}' not found (looked for {full}).", LocationOf(name));
            return null;
        }

        return full;
    }

    /// <summary>A folder relative to the project; when no such folder exists, a hub id (<c>org/name[@revision]</c>), resolved through the hub cache.</summary>
    private (string? Path, HubModel? Hub) BaseModel()
    {
        var value = Raw("BaseModel");
        if (value.Length == 0 || System.IO.Directory.Exists(Path.GetFullPath(value, Directory)) || !HubReference.TryParse(value, out var reference))
        {
            return (RequiredPath("BaseModel", directory: true), null);
        }

        try
        {
            using var hub = new HubModels(HubSettings.FromEnvironment(), _progress);
            var model = hub.Resolve(reference!);
            return (model.Directory, model);
        }
        catch (LlamaNasException e)
        {
            // A mistyped relative folder looks like a hub id too: say that no such folder exists either.
            Error(e.Code, $"BaseModel: there is no folder {Path.GetFullPath(value, Directory)}, and as a hub id: {e.Diagnostic.Message}", LocationOf("BaseModel"));
            return (null, null);
        }
    }

    private LlamaConfig? LoadConfig(string model)
    {
        try
        {
            return LlamaConfig.Load(Path.Combine(model, "config.json"));
        }
        catch (LlamaNasException e)
        {
            Error(e.Code, $"BaseModel: {e.Diagnostic.Message} ({e.Diagnostic.Location})", LocationOf("BaseModel"));
            return null;
        }
    }

    private (string Task, string? UserTask) TargetTask()
    {
        var value = Raw("TargetTask");
        if (value.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            var full = Path.GetFullPath(value, Directory);
            if (!File.Exists(full))
            {
                Error(DiagnosticCodes.ProjectFileNotFound, $"TargetTask: user task file '{value}' not found (looked for {full}).", LocationOf("TargetTask"));
            }

            return ("user", full);
        }

        if (!NasProjectSchema.Tasks.Contains(value))
        {
            Invalid("TargetTask", value, $"perplexity, a built-in task ({string.Join(", ", NasProjectSchema.Tasks.Skip(1))}) or a user task file (.jsonl)", NasProjectSchema.Suggest(value, NasProjectSchema.Tasks));
        }

        return (value, null);
    }

    private List<string> TrainingData()
    {
        var files = new List<string>();
        foreach (var item in _doc.Items.Where(i => i.Type == NasProjectSchema.TrainingDataItem))
        {
            _locations.TryAdd(NasProjectSchema.TrainingDataItem, item.Location);
            foreach (var key in item.Metadata.Keys)
            {
                Error(DiagnosticCodes.ProjectUnknownMetadata, $"TrainingData takes no metadata; '{key}' is not understood.", item.Location);
            }

            foreach (var include in item.Include.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var full = Path.GetFullPath(include, Directory);
                if (include.IndexOfAny(['*', '?']) >= 0)
                {
                    Error(DiagnosticCodes.ProjectFileNotFound, $"TrainingData '{include}' matches no file.", item.Location);
                }
                else if (!File.Exists(full))
                {
                    Error(DiagnosticCodes.ProjectFileNotFound, $"TrainingData file '{include}' not found (looked for {full}).", item.Location);
                }
                else
                {
                    files.Add(full);
                }
            }
        }

        var formats = files.Select(f => f.EndsWith(".txt", StringComparison.OrdinalIgnoreCase)).Distinct().Count();
        if (files.Count > 1 && (formats > 1 || !files[0].EndsWith(".txt", StringComparison.OrdinalIgnoreCase)))
        {
            Error(DiagnosticCodes.ProjectConflictingSettings, "several TrainingData files are joined only when all are plain text (.txt); give one Alpaca/jsonl file.", LocationOf(NasProjectSchema.TrainingDataItem));
        }

        return files;
    }

    /// <summary>The SearchDimension items as a space checked against the base model (LNAS1005/1006/1007/1010).</summary>
    private SearchSpaceSpec? Space(LlamaConfig? config)
    {
        var dims = new Dictionary<string, (IReadOnlyList<int> Choices, DiagnosticLocation Where)>(StringComparer.Ordinal);
        var names = NasProjectSchema.Dimensions.Select(d => d.Name).ToList();
        var ok = true;
        foreach (var item in _doc.Items.Where(i => i.Type == NasProjectSchema.SearchDimensionItem))
        {
            var name = names.FirstOrDefault(n => string.Equals(n, item.Include, StringComparison.OrdinalIgnoreCase));
            if (name is null)
            {
                var hint = NasProjectSchema.Suggest(item.Include, names) is { } s ? $"; did you mean '{s}'?" : $" (dimensions: {string.Join(", ", names)}).";
                Error(DiagnosticCodes.ProjectUnknownDimension, $"unknown search dimension '{item.Include}'{hint}", item.Location);
                ok = false;
                continue;
            }

            foreach (var key in item.Metadata.Keys.Where(k => !string.Equals(k, NasProjectSchema.ChoicesMetadata, StringComparison.OrdinalIgnoreCase)))
            {
                var hint = NasProjectSchema.Suggest(key, [NasProjectSchema.ChoicesMetadata]) is { } s ? $"; did you mean '{s}'?" : " (SearchDimension takes Choices).";
                Error(DiagnosticCodes.ProjectUnknownMetadata, $"unknown metadata '{key}' on SearchDimension {name}{hint}", item.Location);
                ok = false;
            }

            if (dims.ContainsKey(name))
            {
                Error(DiagnosticCodes.ProjectDuplicateDimension, $"SearchDimension {name} is declared twice; declare each dimension once.", item.Location);
                ok = false;
                continue;
            }

            _locations[NasProjectSchema.SearchDimensionItem + ":" + name] = item.Location;
            var choices = Choices(name, item);
            if (choices is null)
            {
                ok = false;
                continue;
            }

            dims[name] = (choices, item.Location);
        }

        if (config is null)
        {
            return null;
        }

        // Each dimension alone first, so the error points at the item at fault.
        foreach (var (name, (choices, where)) in dims)
        {
            var single = name switch
            {
                "Depth" => new SearchSpaceSpec { Depths = choices },
                "MlpWidth" => new SearchSpaceSpec { Depths = [config.NumHiddenLayers], IntermediateSizes = choices },
                "AttentionHeads" => new SearchSpaceSpec { Depths = [config.NumHiddenLayers], AttentionHeads = choices },
                _ => new SearchSpaceSpec { Depths = [config.NumHiddenLayers], HiddenSizes = choices },
            };
            try
            {
                SearchSpace.Create(config, single, $"SearchDimension {name}");
            }
            catch (LlamaNasException e)
            {
                Error(DiagnosticCodes.ProjectChoicesInvalid, $"SearchDimension {name}: {e.Diagnostic.Message}", where);
                ok = false;
            }
        }

        if (!ok)
        {
            return null;
        }

        if (dims.Count == 0)
        {
            return SearchSpaceSpec.LlamaNas(config);
        }

        var spec = new SearchSpaceSpec
        {
            Depths = dims.TryGetValue("Depth", out var d) ? d.Choices : [config.NumHiddenLayers],
            IntermediateSizes = dims.TryGetValue("MlpWidth", out var m) ? m.Choices : null,
            AttentionHeads = dims.TryGetValue("AttentionHeads", out var h) ? h.Choices : null,
            HiddenSizes = dims.TryGetValue("HiddenSize", out var w) ? w.Choices : null,
        };
        try
        {
            SearchSpace.Create(config, spec, "SearchDimension items");
        }
        catch (LlamaNasException e)
        {
            Error(DiagnosticCodes.ProjectChoicesInvalid, e.Diagnostic.Message, dims.First().Value.Where);
            return null;
        }

        return spec;
    }

    private List<int>? Choices(string name, ProjectItem item)
    {
        var text = item.Metadata.TryGetValue(NasProjectSchema.ChoicesMetadata, out var c) ? c : string.Empty;
        var parts = text.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            Error(DiagnosticCodes.ProjectChoicesInvalid, $"SearchDimension {name} has no choices: write Choices=\"a;b;c\" with positive whole numbers.", item.Location);
            return null;
        }

        var values = new List<int>();
        foreach (var part in parts)
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var v) || v <= 0)
            {
                Error(DiagnosticCodes.ProjectChoicesInvalid, $"SearchDimension {name}: choice '{part}' is not a positive whole number.", item.Location);
                return null;
            }

            values.Add(v);
        }

        if (values.Distinct().Count() != values.Count)
        {
            Error(DiagnosticCodes.ProjectChoicesInvalid, $"SearchDimension {name} lists a choice twice ({text}).", item.Location);
            return null;
        }

        return values;
    }

    /// <summary>The target task's data loads (so a broken task file fails now, at its own line).</summary>
    private void CheckTask(NasProject project)
    {
        if (project.TargetTask == "perplexity")
        {
            return;
        }

        try
        {
            TaskLoader.Load(project.TargetTask, project.TaskDataDirectory ?? Directory, new TaskLoadOptions { UserTaskFile = project.UserTaskFile });
        }
        catch (LlamaNasException e)
        {
            _errors.Add(e.Diagnostic);
            Error(DiagnosticCodes.ProjectPropertyInvalid, $"TargetTask {(project.UserTaskFile is null ? project.TargetTask : Path.GetFileName(project.UserTaskFile))} cannot be run: {e.Diagnostic.Message}", LocationOf("TargetTask"));
        }
    }

    /// <summary>
    /// LNAS1009 when even the smallest sub-network of the space is larger than the budget (a share of the base model
    /// in the compute dtype), counted as INT8 with Quantization int8.
    /// </summary>
    private void CheckBudget(NasProject project)
    {
        var space = SearchSpace.Create(project.BaseConfig, project.Space);
        var format = project.ComputeDtype == "fp32" ? SizeModel.Fp32 : SizeModel.Fp16;
        var full = space.SizeBytes(SubnetworkArchitecture.Of(project.BaseConfig), format);
        var smallest = space.SizeBytes(space.Decode(new int[space.GeneCount]), project.Quantization == "int8" ? SizeModel.Int8Linear() : format);
        var budget = project.BudgetBytes(full);
        if (smallest > budget)
        {
            var where = project.MaxModelBytes is null ? LocationOf("SizeBudget") : LocationOf("MaxModelBytes");
            Error(DiagnosticCodes.ProjectBudgetUnreachable, NasProject.Invariant($"no sub-network meets the size budget: it allows {budget:N0} bytes, the smallest sub-network of the search space takes {smallest:N0} ({(double)smallest / full:P1} of the base model); raise the budget or add smaller choices."), where);
        }
    }
}
