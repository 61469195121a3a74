namespace LlamaNas.TestSupport;

/// <summary>Reads a file another process is still writing.</summary>
public static class GrowingFile
{
    /// <summary>Complete lines written so far; 0 while the file does not exist.</summary>
    public static int Lines(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd().Count(c => c == '\n');
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
