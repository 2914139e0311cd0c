namespace Strata.Features.OnDemand;

/// <summary>
/// Recursive descent over the tokens, type-checking as it builds nodes. Precedence, loosest first: or, and, not,
/// comparisons (not chained), + -, * / %, unary minus.
/// </summary>
internal sealed class Parser
{
    private const int MaxDepth = 64;
    private static readonly string[] Keywords = ["and", "or", "not", "true", "false", "if"];
    private readonly string _text;
    private readonly List<Token> _tokens;
    private readonly Schema _inputs;
    private readonly List<string> _names = [];
    private int _next;
    private int _depth;

    public Parser(string text, Schema inputs)
    {
        _text = text;
        _inputs = inputs;
        _tokens = Lexer.Tokenize(text);
    }

    /// <summary>Input names in order of first use.</summary>
    public IReadOnlyList<string> Names => _names;

    public Node ParseAll()
    {
        var node = Expression();
        if (Peek.Kind != TokenKind.End)
        {
            throw Unexpected(Peek);
        }

        return node;
    }

    private Token Peek => _tokens[_next];

    private Node Expression()
    {
        Enter();
        var node = Or();
        _depth--;
        return node;
    }

    private void Enter()
    {
        if (++_depth > MaxDepth)
        {
            throw OnDemandExpression.Error(_text, $"nesting deeper than {MaxDepth}", Peek.Position);
        }
    }

    private Node Or()
    {
        var left = And();
        while (IsWord("or"))
        {
            var op = _tokens[_next++];
            left = new LogicNode([Want(left, ValueType.Bool, op), Want(And(), ValueType.Bool, op)], "or");
        }

        return left;
    }

    private Node And()
    {
        var left = Not();
        while (IsWord("and"))
        {
            var op = _tokens[_next++];
            left = new LogicNode([Want(left, ValueType.Bool, op), Want(Not(), ValueType.Bool, op)], "and");
        }

        return left;
    }

    private Node Not()
    {
        if (!IsWord("not"))
        {
            return Comparison();
        }

        var op = _tokens[_next++];
        Enter();
        var operand = Not();
        _depth--;
        return new LogicNode([Want(operand, ValueType.Bool, op)], "not");
    }

    private Node Comparison()
    {
        var left = Additive();
        if (Peek is { Kind: TokenKind.Symbol, Text: "<" or "<=" or ">" or ">=" or "==" or "!=" } op)
        {
            _next++;
            var right = Additive();
            if (left.Type != right.Type)
            {
                throw OnDemandExpression.Error(_text, $"'{op.Text}' compares {Name(left.Type)} with {Name(right.Type)}", op.Position);
            }

            if (left.Type == ValueType.Bool && op.Text is not ("==" or "!="))
            {
                throw OnDemandExpression.Error(_text, $"'{op.Text}' does not order booleans", op.Position);
            }

            return new CompareNode(left, right, op.Text);
        }

        return left;
    }

    private Node Additive()
    {
        var left = Multiplicative();
        while (Peek is { Kind: TokenKind.Symbol, Text: "+" or "-" } op)
        {
            _next++;
            var right = Multiplicative();
            left = op.Text == "+"
                ? new NumberNode([Want(left, ValueType.Number, op), Want(right, ValueType.Number, op)], static (a, b) => a + b, false)
                : new NumberNode([Want(left, ValueType.Number, op), Want(right, ValueType.Number, op)], static (a, b) => a - b, false);
        }

        return left;
    }

    private Node Multiplicative()
    {
        var left = Unary();
        while (Peek is { Kind: TokenKind.Symbol, Text: "*" or "/" or "%" } op)
        {
            _next++;
            Node[] operands = [Want(left, ValueType.Number, op), Want(Unary(), ValueType.Number, op)];
            left = op.Text switch
            {
                "*" => new NumberNode(operands, static (a, b) => a * b, false),
                "/" => new NumberNode(operands, static (a, b) => a / b, true),
                _ => new NumberNode(operands, static (a, b) => a % b, true),
            };
        }

        return left;
    }

    private Node Unary()
    {
        if (Peek is { Kind: TokenKind.Symbol, Text: "-" } op)
        {
            _next++;
            Enter();
            var operand = Unary();
            _depth--;
            return new NumberNode([Want(operand, ValueType.Number, op)], static (a, _) => -a, false);
        }

        return Primary();
    }

    private Node Primary()
    {
        var token = Peek;
        switch (token.Kind)
        {
            case TokenKind.Number:
                _next++;
                return new ConstantNode(token.Number);
            case TokenKind.String:
                _next++;
                return new ConstantNode(token.Text);
            case TokenKind.Symbol when token.Text == "(":
                _next++;
                var inner = Expression();
                Expect(")");
                return inner;
            case TokenKind.Name when token.Text is "true" or "false":
                _next++;
                return new ConstantNode(token.Text == "true");
            case TokenKind.Name when _tokens[_next + 1] is { Kind: TokenKind.Symbol, Text: "(" }:
                return Call();
            case TokenKind.Name when !Keywords.Contains(token.Text):
                _next++;
                return Input(token);
            default:
                throw Unexpected(token);
        }
    }

    private ColumnNode Input(Token token)
    {
        var index = _inputs.TryIndexOf(token.Text);
        if (index < 0)
        {
            throw OnDemandExpression.Error(_text, $"unknown column '{token.Text}'", token.Position);
        }

        var type = _inputs[index].Type switch
        {
            DataType.Bool => ValueType.Bool,
            DataType.String => ValueType.String,
            _ => ValueType.Number, // numbers, and timestamps as microseconds
        };
        if (!_names.Contains(token.Text))
        {
            _names.Add(token.Text);
        }

        return new ColumnNode(token.Text, type);
    }

    private Node Call()
    {
        var name = _tokens[_next];
        _next += 2;
        var arguments = new List<Node>();
        if (!(Peek is { Kind: TokenKind.Symbol, Text: ")" }))
        {
            arguments.Add(Expression());
            while (Peek is { Kind: TokenKind.Symbol, Text: "," })
            {
                _next++;
                arguments.Add(Expression());
            }
        }

        Expect(")");
        var count = name.Text switch
        {
            "abs" or "sqrt" or "log" or "exp" or "is_null" => 1,
            "min" or "max" or "coalesce" => 2,
            "if" => 3,
            _ => throw OnDemandExpression.Error(_text, $"unknown function '{name.Text}'", name.Position),
        };
        if (arguments.Count != count)
        {
            throw OnDemandExpression.Error(_text, $"{name.Text} takes {count} argument(s), not {arguments.Count}", name.Position);
        }

        switch (name.Text)
        {
            case "abs": return new NumberNode([Want(arguments[0], ValueType.Number, name)], static (a, _) => Math.Abs(a), false);
            case "sqrt": return new NumberNode([Want(arguments[0], ValueType.Number, name)], static (a, _) => Math.Sqrt(a), false);
            case "log": return new NumberNode([Want(arguments[0], ValueType.Number, name)], static (a, _) => Math.Log(a), false);
            case "exp": return new NumberNode([Want(arguments[0], ValueType.Number, name)], static (a, _) => Math.Exp(a), false);
            case "min": return new NumberNode([Want(arguments[0], ValueType.Number, name), Want(arguments[1], ValueType.Number, name)], static (a, b) => Math.Min(a, b), false);
            case "max": return new NumberNode([Want(arguments[0], ValueType.Number, name), Want(arguments[1], ValueType.Number, name)], static (a, b) => Math.Max(a, b), false);
            case "is_null": return new ChoiceNode(null, arguments[0], null, ValueType.Bool);
            case "coalesce":
                Same(arguments[0], arguments[1], name);
                return new ChoiceNode(null, arguments[0], arguments[1], arguments[0].Type);
            default:
                Want(arguments[0], ValueType.Bool, name);
                Same(arguments[1], arguments[2], name);
                return new ChoiceNode(arguments[0], arguments[1], arguments[2], arguments[1].Type);
        }
    }

    private void Same(Node a, Node b, Token at)
    {
        if (a.Type != b.Type)
        {
            throw OnDemandExpression.Error(_text, $"{at.Text} needs arguments of one type, not {Name(a.Type)} and {Name(b.Type)}", at.Position);
        }
    }

    private Node Want(Node node, ValueType type, Token at) =>
        node.Type == type
            ? node
            : throw OnDemandExpression.Error(_text, $"'{at.Text}' needs {Name(type)} operands, not {Name(node.Type)}", at.Position);

    private void Expect(string symbol)
    {
        if (Peek is { Kind: TokenKind.Symbol } token && token.Text == symbol)
        {
            _next++;
            return;
        }

        throw Unexpected(Peek);
    }

    private bool IsWord(string word) => Peek.Kind == TokenKind.Name && Peek.Text == word;

    private StrataException Unexpected(Token token) =>
        token.Kind == TokenKind.End
            ? OnDemandExpression.Error(_text, "unexpected end", token.Position)
            : OnDemandExpression.Error(_text, $"unexpected '{token.Text}'", token.Position);

    private static string Name(ValueType type) => type switch
    {
        ValueType.Number => "number",
        ValueType.Bool => "bool",
        _ => "string",
    };
}
