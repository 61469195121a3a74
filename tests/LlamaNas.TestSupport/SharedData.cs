namespace LlamaNas.TestSupport;

/// <summary>
/// Locates the real models and data in <c>../shared</c> beside the repository. Tests that need them fail with a
/// clear message when the folder is absent; they never skip silently.
/// </summary>
public static class SharedData
{
    private static readonly Lazy<string> Root = new(FindRoot);

    public static string Directory => Root.Value;

    public static string Path(params string[] parts)
    {
        var path = System.IO.Path.Combine([Directory, .. parts]);
        if (!File.Exists(path) && !System.IO.Directory.Exists(path))
        {
            throw new FileNotFoundException($"Shared test data '{path}' is missing: the ../shared folder beside the checkout must hold it.", path);
        }

        return path;
    }

    /// <summary>The real pretrained stories260K checkpoint (HF layout).</summary>
    public static string Stories260K => Path("models", "stories260K");

    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "LlamaNas.Tool.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new DirectoryNotFoundException("Could not find the repository root (LlamaNas.Tool.sln) above " + AppContext.BaseDirectory);
        }
    }

    private static string FindRoot()
    {
        var fromEnv = Environment.GetEnvironmentVariable("LLAMANAS_SHARED_DIR");
        var candidate = !string.IsNullOrEmpty(fromEnv) ? fromEnv : System.IO.Path.Combine(RepositoryRoot, "..", "shared");
        candidate = System.IO.Path.GetFullPath(candidate);
        if (!File.Exists(System.IO.Path.Combine(candidate, "README.md")))
        {
            throw new DirectoryNotFoundException(
                $"The shared test data folder was not found at '{candidate}'. Put the llamanas shared/ folder beside the checkout or set LLAMANAS_SHARED_DIR.");
        }

        return candidate;
    }
}
