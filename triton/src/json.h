// json.h: the little JSON reading the backend needs. Triton hands a model's configuration
// to a backend only as JSON text (TRITONSERVER_MessageSerializeToJson); this reads it into
// a tree. Numbers are kept as their text (protobuf's JSON writes int64 fields such as
// dims as strings anyway), which the caller converts.
#ifndef TRITON_NRTQ_JSON_H
#define TRITON_NRTQ_JSON_H

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace triton_nrtq::json {

struct Value {
    enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
    bool boolean = false;
    std::string text;  // String: the decoded string; Number: the literal
    std::vector<Value> items;
    std::map<std::string, Value> members;

    /** The member `key`, or a Null value when absent or this is not an object. */
    const Value &operator[](const std::string &key) const {
        static const Value null;
        auto it = members.find(key);
        return it == members.end() ? null : it->second;
    }
    bool is_null() const { return kind == Kind::Null; }
    /** A Number, or a String holding an integer (protobuf's int64 encoding). */
    long long as_int(long long fallback) const {
        if (kind != Kind::Number && kind != Kind::String) return fallback;
        try {
            std::size_t used = 0;
            long long v = std::stoll(text, &used);
            return used == text.size() ? v : fallback;
        } catch (const std::exception &) {
            return fallback;
        }
    }
};

class Parser {
public:
    explicit Parser(const std::string &text) : s_(text) {}

    Value parse() {
        Value v = value();
        space();
        if (i_ != s_.size()) error("trailing characters");
        return v;
    }

private:
    [[noreturn]] void error(const std::string &what) const {
        throw std::runtime_error("model configuration JSON, byte " + std::to_string(i_) + ": " + what);
    }
    void space() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) i_++;
    }
    bool eat(char c) {
        space();
        if (i_ < s_.size() && s_[i_] == c) {
            i_++;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!eat(c)) error(std::string("expected '") + c + "'");
    }
    bool word(const char *w) {
        std::string t(w);
        if (s_.compare(i_, t.size(), t) == 0) {
            i_ += t.size();
            return true;
        }
        return false;
    }

    Value value() {
        space();
        if (i_ >= s_.size()) error("unexpected end");
        Value v;
        const char c = s_[i_];
        if (c == '{') {
            i_++;
            v.kind = Value::Kind::Object;
            if (eat('}')) return v;
            do {
                space();
                std::string key = string();
                expect(':');
                v.members[key] = value();
            } while (eat(','));
            expect('}');
        } else if (c == '[') {
            i_++;
            v.kind = Value::Kind::Array;
            if (eat(']')) return v;
            do {
                v.items.push_back(value());
            } while (eat(','));
            expect(']');
        } else if (c == '"') {
            v.kind = Value::Kind::String;
            v.text = string();
        } else if (word("true")) {
            v.kind = Value::Kind::Bool;
            v.boolean = true;
        } else if (word("false")) {
            v.kind = Value::Kind::Bool;
        } else if (word("null")) {
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            v.kind = Value::Kind::Number;
            const std::size_t start = i_;
            while (i_ < s_.size() && std::string("+-.eE0123456789").find(s_[i_]) != std::string::npos) i_++;
            v.text = s_.substr(start, i_ - start);
        } else {
            error(std::string("unexpected character '") + c + "'");
        }
        return v;
    }

    std::string string() {
        if (i_ >= s_.size() || s_[i_] != '"') error("expected a string");
        i_++;
        std::string out;
        while (i_ < s_.size() && s_[i_] != '"') {
            char c = s_[i_++];
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) break;
            char e = s_[i_++];
            switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'u': {
                if (i_ + 4 > s_.size()) error("short \\u escape");
                unsigned code = static_cast<unsigned>(std::stoul(s_.substr(i_, 4), nullptr, 16));
                i_ += 4;
                // Configuration names are ASCII; anything else is kept as UTF-8 of the BMP point.
                if (code < 0x80) {
                    out += static_cast<char>(code);
                } else if (code < 0x800) {
                    out += static_cast<char>(0xC0 | (code >> 6));
                    out += static_cast<char>(0x80 | (code & 0x3F));
                } else {
                    out += static_cast<char>(0xE0 | (code >> 12));
                    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
                    out += static_cast<char>(0x80 | (code & 0x3F));
                }
                break;
            }
            default: out += e; break;  // \" \\ \/
            }
        }
        if (i_ >= s_.size()) error("unterminated string");
        i_++;
        return out;
    }

    const std::string &s_;
    std::size_t i_ = 0;
};

inline Value parse(const std::string &text) { return Parser(text).parse(); }

} // namespace triton_nrtq::json

#endif // TRITON_NRTQ_JSON_H
