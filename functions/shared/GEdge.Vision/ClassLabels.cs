namespace GEdge.Vision;

/// <summary>The class names of a model, indexed by class id (one name per line of a darknet-style <c>.names</c> file).</summary>
public sealed class ClassLabels
{
    private readonly string[] _names;

    /// <summary>Creates a label set from names in class-id order.</summary>
    public ClassLabels(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        _names = [.. names];
    }

    /// <summary>Number of classes.</summary>
    public int Count => _names.Length;

    /// <summary>All names in class-id order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>The name of a class; ids outside the set get <c>class N</c> rather than an exception, since a label is only for display.</summary>
    public string this[int classId] => (uint)classId < (uint)_names.Length ? _names[classId] : $"class {classId}";

    /// <summary>The class id of a name, or -1.</summary>
    public int IdOf(string name) => Array.IndexOf(_names, name);

    /// <summary>Reads a names file: one label per line, blank lines at the end ignored.</summary>
    public static ClassLabels Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new ModelException($"Labels file {path} does not exist.");
        }

        var lines = File.ReadAllLines(path);
        var count = lines.Length;
        while (count > 0 && string.IsNullOrWhiteSpace(lines[count - 1]))
        {
            count--;
        }

        var names = new string[count];
        for (var i = 0; i < count; i++)
        {
            names[i] = lines[i].Trim();
        }

        return new ClassLabels(names);
    }
}
