using System.Globalization;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Tool;

/// <summary>
/// The last resort for exceptions that are not coded <see cref="LlamaNasException"/>s (bugs): users get one coded
/// line and exit code 70 (EX_SOFTWARE); the full exception goes to a log file for the bug report.
/// </summary>
public static class InternalError
{
    public const int ExitCode = 70;

    /// <param name="logFolder">Where the log goes; null: the first writable of <see cref="LogFolders"/>.</param>
    public static async Task<int> ReportAsync(Exception exception, IReadOnlyList<string> args, TextWriter error, string? logFolder = null)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentNullException.ThrowIfNull(error);
        var where = WriteLog(exception, args, logFolder is null ? LogFolders() : [logFolder]);
        var message = exception.Message.ReplaceLineEndings(" ");
        var diagnostic = new Diagnostic(DiagnosticCodes.InternalError, DiagnosticSeverity.Error,
            $"internal error ({exception.GetType().Name}: {message}); details in {where}. Please report it with that file.");
        await error.WriteLineAsync(diagnostic.ToString()).ConfigureAwait(false);
        return ExitCode;
    }

    /// <summary>
    /// Writes <c>$XDG_STATE_HOME/llamanas/internal-error-*.log</c> (else <c>~/.local/state/llamanas</c>, else the temp
    /// folder); returns its path, or why it could not be written.
    /// </summary>
    private static string WriteLog(Exception exception, IReadOnlyList<string> args, IEnumerable<string> folders)
    {
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var name = $"internal-error-{stamp}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.log";
        var text = $"llamanas {string.Join(' ', args)}\n{DateTime.UtcNow:O}\n\n{exception}\n";
        string? failure = null;
        foreach (var folder in folders)
        {
            try
            {
                Directory.CreateDirectory(folder);
                var path = Path.Combine(folder, name);
                File.WriteAllText(path, text);
                return path;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failure = e.Message;
            }
        }

        return $"no log file ({failure})";
    }

    private static IEnumerable<string> LogFolders()
    {
        if (Environment.GetEnvironmentVariable("XDG_STATE_HOME") is { Length: > 0 } state)
        {
            yield return Path.Combine(state, "llamanas");
        }

        if (Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 0 } home)
        {
            yield return Path.Combine(home, ".local", "state", "llamanas");
        }

        yield return Path.Combine(Path.GetTempPath(), "llamanas");
    }
}
