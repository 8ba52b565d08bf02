package floor

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// Every field of a room, filled in to the last map and slice, is copied by
// Clone, and the copy shares nothing the engine could write through. A
// field added to Room (or to a type inside it) without Clone learning of
// it fails here.
func TestCloneCopiesEveryFieldAndSharesNothing(t *testing.T) {
	r := new(Room)
	fill(t, reflect.ValueOf(r).Elem(), "Room")
	c := r.Clone()
	if !reflect.DeepEqual(r, c) {
		t.Fatalf("the clone differs:\n%#v\n%#v", r, c)
	}
	shared(t, reflect.ValueOf(r).Elem(), reflect.ValueOf(c).Elem(), "Room")
	if (*Room)(nil).Clone() != nil {
		t.Fatal("a nil room's clone is not nil")
	}
}

// fill gives every field under v a value that is not its zero value:
// maps and slices get one element, pointers a target, interfaces a JSON
// object holding an array (what a floor_config value may be).
func fill(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(t0))
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				t.Fatalf("%s.%s is unexported: teach Clone and this test about it", path, f.Name)
			}
			fill(t, v.Field(i), path+"."+f.Name)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0), path+"[0]")
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		key, elem := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, key, path+" key")
		fill(t, elem, path+"[k]")
		v.SetMapIndex(key, elem)
	case reflect.Interface:
		v.Set(reflect.ValueOf(map[string]any{"k": []any{1.0, map[string]any{"n": "v"}}}))
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Float64:
		v.SetFloat(1.5)
	default:
		t.Fatalf("%s: kind %s: teach Clone and this test about it", path, v.Kind())
	}
}

// shared fails when a and b (equal values) reach the same map, slice
// array or pointer target.
func shared(t *testing.T, a, b reflect.Value, path string) {
	t.Helper()
	switch a.Kind() {
	case reflect.Struct:
		if a.Type() == reflect.TypeFor[time.Time]() {
			return // a value (its *Location is never written)
		}
		for i := range a.NumField() {
			shared(t, a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)
		}
	case reflect.Pointer, reflect.Map, reflect.Slice:
		if !a.IsNil() && a.UnsafePointer() == b.UnsafePointer() {
			t.Errorf("%s is shared by the room and its clone", path)
		}
		switch a.Kind() {
		case reflect.Pointer:
			if !a.IsNil() {
				shared(t, a.Elem(), b.Elem(), path)
			}
		case reflect.Slice:
			for i := range a.Len() {
				shared(t, a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i))
			}
		case reflect.Map:
			for _, k := range a.MapKeys() {
				shared(t, a.MapIndex(k), b.MapIndex(k), fmt.Sprintf("%s[%v]", path, k))
			}
		}
	case reflect.Interface:
		if !a.IsNil() {
			shared(t, a.Elem(), b.Elem(), path)
		}
	}
}

// A room kept in memory and cloned for each decision decides exactly as
// the same room written to JSON and read back (what the store did for
// every decision before it cached rooms): random sequences of inputs, the
// two side by side, the same effects, log and state after every step.
func TestClonedRoomDecidesAsItsJSONRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0xc10e))
		kept := newTestRoom()
		stored := encodeRoom(t, kept)
		now := t0
		for step := range 300 {
			now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
			env := Env{Now: now, LiveAvailable: true, BusyElsewhere: func(d Device) bool { return d == boss }}
			in := randomInput(rng, kept, now)
			if rng.IntN(3) == 0 {
				env.Received = now.Add(-time.Duration(rng.IntN(5000)) * time.Millisecond)
				env.Sent = env.Received.Add(time.Duration(rng.IntN(4000)-3000) * time.Millisecond)
			}
			fromMemory := Decide(loaded(kept.Clone()), in, env)
			fromJSON := Decide(decodeRoom(t, stored), in, env)
			where := fmt.Sprintf("seed %d, step %d, input %#v", seed, step, in)
			if a, b := encodeRoom(t, fromMemory), encodeRoom(t, fromJSON); a != b {
				t.Fatalf("%s: the decisions differ:\nfrom memory %s\nfrom JSON   %s", where, a, b)
			}
			kept, stored = fromMemory.Room, encodeRoom(t, fromJSON.Room)
		}
	}
}

// loaded is what the store does to every room it hands out, cached or
// decoded: the controller and config.yaml's defaults are its own.
func loaded(r *Room) *Room {
	r.Controller = controller
	r.ApplyDefaults(testConfig())
	return r
}

func encodeRoom(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodeRoom(t *testing.T, state string) *Room {
	t.Helper()
	r := new(Room)
	if err := json.Unmarshal([]byte(state), r); err != nil {
		t.Fatal(err)
	}
	return loaded(r)
}
